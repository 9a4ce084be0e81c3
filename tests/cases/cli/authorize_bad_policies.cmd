authorize --policies tests/cases/errors/several_errors.mspl --principal User::"a" --action Action::"view" --resource Doc::"d"
