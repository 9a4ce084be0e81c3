explain --policies policies/model_studio --entities policies/model_studio/examples/entities.json --principal RamUser::"user-01" --action Action::"model.call" --resource Model::"qwen-max"
