validate --policies tests/cases/validate/common.cedarschema --entities tests/cases/validate/no_such_file.json
