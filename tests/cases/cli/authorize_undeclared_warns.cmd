authorize -p policies/model_studio --entities policies/model_studio/examples/entities.json -l RamUser::\"user-01\" -a Action::\"page.edt\" -r Page::\"project-a/applications\"
