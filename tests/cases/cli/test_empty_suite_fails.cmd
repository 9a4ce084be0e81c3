test tests/cases/test-runner/declared/empty.json
