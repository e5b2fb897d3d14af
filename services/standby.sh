# Sourced by services/<kind>/start once what can be made ahead of the port is made (keys,
# configuration). A standby instance (MTDLAB_STANDBY=1, controller/standby.py) is started and
# booted before its hop with its port already drawn, but listens on nothing until the
# controller opens it with SIGWINCH; then the hop costs a signal and a bind instead of a
# container start and a program's boot. SIGWINCH because its default action is to be ignored:
# a signal that came before the trap could not kill the instance (the controller waits for the
# line below anyway).
standby_wait() {
  [ "${MTDLAB_STANDBY:-}" = 1 ] || return 0
  opened=
  trap 'opened=1' WINCH
  echo "standby: ready to open"
  # A trapped signal ends `wait` at once; the short sleep bounds the one race a shell leaves (the
  # signal landing between the test and the wait) to a second.
  while [ -z "$opened" ]; do
    sleep 1 & waiter=$!
    wait "$waiter" 2>/dev/null || true
    kill "$waiter" 2>/dev/null || true
    # Reaped here: a child left to the program exec'd next (vsftpd) would be a stranger to it,
    # and vsftpd exits when it reaps a child it did not start.
    wait "$waiter" 2>/dev/null || true
  done
  trap - WINCH
}
standby_wait
