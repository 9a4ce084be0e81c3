fmt --check tests/cases/fmt
