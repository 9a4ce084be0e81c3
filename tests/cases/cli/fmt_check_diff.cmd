fmt --check --diff tests/cases/fmt
