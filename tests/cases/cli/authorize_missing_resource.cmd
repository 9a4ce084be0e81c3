authorize --policies tests/cases/authorize/default_deny --principal User::"a" --action Action::"view"
