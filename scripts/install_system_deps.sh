#!/usr/bin/env bash
# Install the Debian packages named on the command line when any is missing.
#
# Another apt (unattended upgrades, a second set-up) may hold the package manager's locks: this
# waits for them up to VSR_APT_LOCK_TIMEOUT seconds (600 by default), then names who holds them.
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

lock_timeout_s="${VSR_APT_LOCK_TIMEOUT:-600}"
deadline=$((SECONDS + lock_timeout_s))
locks=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock
  /var/cache/apt/archives/lock)

# "FILE is held by PID N (command line)" for each of apt's locks someone holds, from /proc/locks
# (apt takes fcntl locks; flock ones are listed there too).
lock_holders() {
  local file dev ino major minor pid id lock_major lock_minor lock_ino
  for file in "${locks[@]}"; do
    [ -e "$file" ] || continue
    dev=$(stat -c %d "$file")
    ino=$(stat -c %i "$file")
    major=$(((dev >> 8) & 0xfff | ((dev >> 32) & ~0xfff)))
    minor=$(((dev & 0xff) | ((dev >> 12) & ~0xff)))
    # "1: POSIX  ADVISORY  WRITE PID MAJOR:MINOR:INODE START END"; "-> " lines are waiters.
    while read -r _ _ _ _ pid id _; do
      IFS=: read -r lock_major lock_minor lock_ino <<<"$id"
      [ "$lock_ino" = "$ino" ] && [ $((16#$lock_major)) -eq "$major" ] &&
        [ $((16#$lock_minor)) -eq "$minor" ] || continue
      echo "$file is held by PID $pid ($(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null |
        sed 's/ $//' || echo 'command line unknown'))"
    done < <(grep -v -- '->' /proc/locks)
  done
}

# apt-get, waiting for the locks until the deadline: install waits by itself
# (DPkg::Lock::Timeout), update does not, so it is tried again while a lock is held.
apt_get() {
  local status held
  held=$(lock_holders)
  if [ -n "$held" ]; then
    echo "install_system_deps.sh: waiting up to ${lock_timeout_s} s for the package manager:" \
      "${held//$'\n'/; }" >&2
  fi
  while :; do
    status=0
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get \
      -o DPkg::Lock::Timeout=$((deadline > SECONDS ? deadline - SECONDS : 0)) "$@" || status=$?
    [ $status -eq 0 ] && return 0
    held=$(lock_holders)
    if [ -n "$held" ] && [ $SECONDS -lt $deadline ]; then
      sleep 2
      continue
    fi
    if [ -n "$held" ]; then
      echo "install_system_deps.sh: apt-get $1 gave up after waiting ${lock_timeout_s} s" \
        "(VSR_APT_LOCK_TIMEOUT) for the package manager: ${held//$'\n'/; }" >&2
    fi
    exit $status
  done
}

echo "installing Debian packages: ${missing[*]}"
apt_get update -qq
apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
