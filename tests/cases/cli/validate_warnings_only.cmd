validate --policies tests/cases/validate/common.cedarschema tests/cases/validate/warnings.mspl
