authorize --policies tests/cases/authorize/default_deny --entities tests/cases/cli/bad_entities.json --principal User::"a" --action Action::"view" --resource Doc::"d"
