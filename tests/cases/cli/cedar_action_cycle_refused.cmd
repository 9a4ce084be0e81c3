authorize --cedar -p tests/cases/cli/trust/groups.cedar --entities tests/cases/cli/trust/action_cycle.json -l User::\"alice\" -a Action::\"read\" -r User::\"alice\"
