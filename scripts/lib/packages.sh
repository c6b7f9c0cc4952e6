# Debian packages and the .NET SDK: installed when missing (as root), or named. Sourced by scripts/lib.sh.
# shellcheck shell=bash

# Installs the Debian packages that are missing (as root), or says what to install.
need_packages() {
  local missing=() p
  # Installed, not merely known: a package removed without --purge keeps its status entry (and dpkg -s says yes).
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if is_root; then
    say "installing ${missing[*]}"
    # An install killed earlier leaves dpkg half done (dpkg --audit names what), and apt-get refuses until that is
    # finished (a package killed mid-unpack apt-get installs again itself); one still running holds the lock, which
    # dpkg does not wait for (apt-get then says what is wrong) and apt-get does.
    [ -z "$(dpkg --audit 2>/dev/null)" ] || DEBIAN_FRONTEND=noninteractive dpkg --configure -a >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
  else
    say "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
    return 1
  fi
}

need_dotnet() {
  command -v dotnet >/dev/null || { say "the .NET 10 SDK is required (dotnet on PATH)"; return 1; }
}
