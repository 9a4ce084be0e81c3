authorize --policies tests/cases/cli/no_policies --principal User::"a" --action Action::"view" --resource Doc::"d"
