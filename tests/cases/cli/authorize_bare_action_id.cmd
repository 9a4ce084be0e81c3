authorize --policies policies/model_studio --entities policies/model_studio/examples/entities.json --principal RamUser::"user-01" -a page.edit --resource Page::"project-a/applications"
