validate --policies tests/cases/validate/common.cedarschema --entities tests/cases/validate/entity_wrong_value_types.json --requests tests/cases/validate/request_context.jsonl
