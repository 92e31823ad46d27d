#!/usr/bin/env bash
# Installs ide-agentsd as a systemd user service started by its socket:
#   the binary  -> ~/.local/bin/ide-agentsd
#   the units   -> ~/.config/systemd/user/ide-agentsd.{socket,service}
# then reloads the user manager and enables and starts the socket. IDEs then reach the
# daemon at $XDG_RUNTIME_DIR/ide-agents/mcp.sock; systemd starts it on the first connection.
#
# usage: scripts/install-systemd-user.sh [--binary PATH] [--dry-run]
#   --binary PATH  install this binary instead of building a release build
#   --dry-run      print what would be done, change nothing
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
binary=""
dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-systemd-user.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# The unit runs %h/.local/bin/ide-agentsd, so the binary goes exactly there.
bin_dir="$HOME/.local/bin"
unit_dir="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"

run() {
  echo "+ $*"
  if [ "$dry_run" = 0 ]; then "$@"; fi
}

if [ -z "$binary" ]; then
  run cargo build --release --locked --bin ide-agentsd --manifest-path "$repo/Cargo.toml"
  binary="$repo/target/release/ide-agentsd"
elif [ ! -x "$binary" ]; then
  echo "install-systemd-user.sh: $binary is not an executable file" >&2
  exit 1
fi

run install -D -m 0755 "$binary" "$bin_dir/ide-agentsd"
for unit in ide-agentsd.socket ide-agentsd.service; do
  run install -D -m 0644 "$repo/scripts/systemd/$unit" "$unit_dir/$unit"
done
run systemctl --user daemon-reload
run systemctl --user enable --now ide-agentsd.socket
# An upgrade: a running daemon drains and restarts on the new binary.
run systemctl --user try-restart ide-agentsd.service

socket="${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/ide-agents/mcp.sock"
if [ "$dry_run" = 1 ]; then
  echo "dry run: nothing was changed; this would install:"
else
  echo "Installed:"
fi
cat <<DONE
  binary   $bin_dir/ide-agentsd
  units    $unit_dir/ide-agentsd.socket, $unit_dir/ide-agentsd.service
  socket   $socket (systemd starts the daemon on the first connection)
Check it with:   $bin_dir/ide-agentsd status
Logs:            journalctl --user -u ide-agentsd.service
IDE command:     $bin_dir/ide-agentsd connect
DONE
