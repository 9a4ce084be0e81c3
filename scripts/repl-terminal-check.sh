#!/usr/bin/env bash
# Drives `mspl repl` through a real terminal (tmux) and checks what a person
# would see: the continuation prompt on an open bracket, tab completion of a
# keyword, a command and an entity id, syntax highlighting (ANSI escapes in
# the pane), pasted and typed-ahead lines read in full, Ctrl-C dropping a
# line, Ctrl-D leaving, and the history file.
#
# Requires tmux (Debian: `apt-get install -y tmux`); this script installs
# nothing. Uses the binary in $MSPL, else target/debug/mspl (build it first
# with `cargo build`). Runs on a private tmux socket, so it touches no tmux
# session of yours. Exits 0 when every check passes, 1 otherwise, 2 when it
# cannot run.
set -uo pipefail
cd "$(dirname "$0")/.."

MSPL=${MSPL:-target/debug/mspl}
if ! command -v tmux >/dev/null 2>&1; then
    echo "repl-terminal-check: tmux is not installed (apt-get install -y tmux)" >&2
    exit 2
fi
if [ ! -x "$MSPL" ]; then
    echo "repl-terminal-check: no binary at $MSPL (run cargo build)" >&2
    exit 2
fi

work=$(mktemp -d)
socket="mspl-repl-check-$$"
tmx() { tmux -L "$socket" "$@"; }
cleanup() {
    tmx kill-server >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
pass() { echo "ok: $1"; passed=$((passed + 1)); }
fail() {
    echo "FAILED: $1"
    echo "--- screen"
    tmx capture-pane -p -t repl 2>/dev/null | sed '/^$/d'
    echo "---"
    failed=$((failed + 1))
}

# Waits (up to 5 s) until the screen, plain or with escapes (-e), has a line
# matching the extended regex $2.
wait_for() {
    local flags=$1 pattern=$2
    for _ in $(seq 50); do
        if tmx capture-pane -p $flags -t repl 2>/dev/null | grep -Eq -- "$pattern"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# The pane stays after mspl exits, so that a failure shows its last screen.
echo "set -g remain-on-exit on" >"$work/tmux.conf"
# Waits (up to 5 s) for a fresh prompt on the last line. Keys are sent only
# then: rustyline asks the terminal where the cursor is before it draws a
# prompt, and drops what is typed ahead of the answer.
wait_prompt() {
    for _ in $(seq 50); do
        if tmx capture-pane -p -t repl 2>/dev/null | sed '/^ *$/d' | tail -n 1 |
            grep -Eq '^(mspl| \.\.\.)>( )?$'; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

tmx -f "$work/tmux.conf" new-session -d -s repl -x 100 -y 40 \
    "TERM=xterm-256color $MSPL repl --policies policies/model_studio \
     --entities policies/model_studio/examples/entities.json \
     --history $work/history"

if wait_prompt; then pass "the prompt appears"; else fail "the prompt appears"; fi

# An open bracket: the line goes on under the continuation prompt.
tmx send-keys -t repl '[1, 2,' Enter
if wait_for "" '^ \.\.\.>( )?$'; then
    pass "an open bracket gives the continuation prompt"
else
    fail "an open bracket gives the continuation prompt"
fi
wait_prompt
tmx send-keys -t repl '3]' Enter
if wait_for "" '^\[1, 2, 3\]$'; then
    pass "the continued input is evaluated"
else
    fail "the continued input is evaluated"
fi

# Tab completes a keyword, a command and an entity id.
wait_prompt
tmx send-keys -t repl 'princ' Tab
if wait_for "" '^mspl> principal$'; then pass "Tab completes a keyword"; else fail "Tab completes a keyword"; fi
tmx send-keys -t repl C-u ':pol' Tab
if wait_for "" '^mspl> :policies$'; then pass "Tab completes a command"; else fail "Tab completes a command"; fi
tmx send-keys -t repl C-u 'Workspace::"proj' Tab
if wait_for "" '^mspl> Workspace::"project-a"$'; then
    pass "Tab completes an entity id"
else
    fail "Tab completes an entity id"
fi

# Highlighting: the type and the string carry their colours (blue, green),
# the variable its own (cyan).
tmx send-keys -t repl ' in principal'
esc=$'\e'
if wait_for "-e" "${esc}\\[34m(${esc}\\[[0-9;]*m)*Workspace" &&
    wait_for "-e" "${esc}\\[32m(${esc}\\[[0-9;]*m)*\"project-a\"" &&
    wait_for "-e" "${esc}\\[36m(${esc}\\[[0-9;]*m)*principal"; then
    pass "the line is highlighted"
else
    fail "the line is highlighted"
fi

# Ctrl-C drops the line; the next input runs on its own.
tmx send-keys -t repl C-c
wait_prompt
tmx send-keys -t repl '40 + 2' Enter
if wait_for "" '^42$'; then pass "Ctrl-C drops the line"; else fail "Ctrl-C drops the line"; fi

# A bracketed paste of a five-line policy, then of three commands: every
# line is read, the policy as one input, the commands as three.
wait_prompt
printf 'permit(\n  principal == RamUser::"pasted",\n  action,\n  resource\n);\n' >"$work/policy.txt"
tmx load-buffer "$work/policy.txt"
tmx paste-buffer -p -t repl
tmx send-keys -t repl Enter
if wait_for "" '^added policy'; then pass "a pasted five-line policy is read whole"; else fail "a pasted five-line policy is read whole"; fi
wait_prompt
printf ':set principal RamUser::"pasted"\n:set action Action::"page.view"\n:set resource Page::"project-a/knowledge_base"\n' >"$work/commands.txt"
tmx load-buffer "$work/commands.txt"
tmx paste-buffer -p -t repl
tmx send-keys -t repl Enter
if wait_for "" '^principal = RamUser::"pasted"' && wait_for "" '^action = Action::"page.view"' &&
    wait_for "" '^resource = Page::"project-a/knowledge_base"'; then
    pass "three pasted commands all run"
else
    fail "three pasted commands all run"
fi
# Lines typed ahead of the prompt (a paste the terminal does not bracket)
# are kept for the next inputs, not dropped.
wait_prompt
printf '6 * 9\n100 + 1\n' >"$work/ahead.txt"
tmx load-buffer "$work/ahead.txt"
tmx paste-buffer -t repl
if wait_for "" '^54$' && wait_for "" '^101$'; then
    pass "typed-ahead lines are all read"
else
    fail "typed-ahead lines are all read"
fi

# Ctrl-D on an empty line leaves, and the history is saved.
wait_prompt
tmx send-keys -t repl C-d
gone=1
for _ in $(seq 50); do
    if [ "$(tmx display-message -p -t repl '#{pane_dead}' 2>/dev/null)" = 1 ]; then
        gone=0
        break
    fi
    sleep 0.1
done
if [ $gone -eq 0 ]; then pass "Ctrl-D leaves"; else fail "Ctrl-D leaves"; fi
if grep -q '^40 + 2$' "$work/history" 2>/dev/null; then
    pass "the history file keeps the inputs"
else
    fail "the history file keeps the inputs"
fi

echo "repl terminal check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
