check tests/cases/errors/several_errors.mspl
