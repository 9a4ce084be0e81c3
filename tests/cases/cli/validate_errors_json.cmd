validate --policies tests/cases/validate/common.cedarschema tests/cases/validate/optional_unguarded.mspl --format json
