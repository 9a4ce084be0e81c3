check --format json tests/cases/errors/unknown_variable.cedar
