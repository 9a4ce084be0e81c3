authorize --cedar -p tests/cases/cli/trust/groups.cedar --entities tests/cases/cli/trust/cycle.json -l User::\"alice\" -a Action::\"read\" -r User::\"alice\"
