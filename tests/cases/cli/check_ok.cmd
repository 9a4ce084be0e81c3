check tests/cases/syntax
