# A bounded CPU hog on one of the two cores (the 2-core machine with a busy neighbour), for the
# stress scripts: start_hog starts it and arranges for it to stop when the script exits; it also
# ends by itself after 3 hours, even if the script is killed.
start_hog() {
  node -e 'const end = Date.now() + 3 * 3600e3; while (Date.now() < end) {}' &
  hog_pid=$!
  trap 'kill "$hog_pid" 2>/dev/null || true' EXIT
  echo "$1: CPU hog running as pid $hog_pid"
}
