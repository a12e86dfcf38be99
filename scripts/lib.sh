# Sourced by demo.sh and test.sh: installs what the emulated boards need (rust targets through
# rustup, QEMU and friends through apt-get, with sudo when not root), saying so one line each.
# An install that cannot happen (no rustup or apt-get, not root and no usable sudo, no network, a
# failed apt-get) is not fatal here: it is added to MOTE_NOT_INSTALLED, with the command that
# installs it by hand, and each script decides what that means (demo.sh still does the host part,
# test.sh stops).
#
# MOTE_NO_INSTALL=1 turns every install into one that cannot happen, without touching the machine:
# it is how the fallback path is tested (`MOTE_NO_INSTALL=1 bash scripts/demo.sh` on a machine
# missing the target or QEMU).

step() { printf '\n== %s\n' "$*"; }

# One line per thing that could not be installed: "what  (install: command)".
MOTE_NOT_INSTALLED=()

# Adds each rustc target of "$@" that rustup does not list as installed.
ensure_rust_targets() {
  local installed t
  installed=$(rustup target list --installed 2>/dev/null || true)
  for t in "$@"; do
    grep -qx "$t" <<<"$installed" && continue
    echo "installing the rust target $t (rustup target add $t)"
    if [ -n "${MOTE_NO_INSTALL:-}" ]; then
      echo "  not installing: MOTE_NO_INSTALL is set"
    elif rustup target add "$t"; then
      continue
    fi
    MOTE_NOT_INSTALLED+=("the rust target $t  (install: rustup target add $t)")
  done
}

# apt-get, as root or through sudo, with the package lists updated once; fails when it cannot be
# used, after printing why.
_mote_apt=""
_mote_sudo=""
_apt_ready() {
  if [ -z "$_mote_apt" ]; then
    _mote_apt=no
    if [ -n "${MOTE_NO_INSTALL:-}" ]; then
      echo "  not installing: MOTE_NO_INSTALL is set"
    elif ! command -v apt-get >/dev/null; then
      echo "  cannot install: no apt-get on this machine"
    elif [ "$(id -u)" != 0 ] && ! { command -v sudo >/dev/null && { sudo -n true 2>/dev/null || [ -t 0 ]; }; }; then
      echo "  cannot install: not root, and no sudo that works here"
    else
      [ "$(id -u)" = 0 ] || _mote_sudo=sudo
      if $_mote_sudo apt-get update -qq; then _mote_apt=ok; else echo "  cannot install: apt-get update failed"; fi
    fi
  fi
  [ "$_mote_apt" = ok ]
}

# Installs, for each COMMAND=PACKAGE of "$@" whose command is missing, the apt package.
# One package per apt-get call: qemu-system-arm and qemu-system-misc together fail to resolve.
ensure_commands() {
  local pair cmd pkg
  for pair in "$@"; do
    cmd=${pair%%=*} pkg=${pair#*=}
    command -v "$cmd" >/dev/null && continue
    if [ "$cmd" = "$pkg" ]; then echo "installing $pkg (apt-get install $pkg)"; else echo "installing $pkg, for $cmd (apt-get install $pkg)"; fi
    if _apt_ready && $_mote_sudo apt-get install -y -qq "$pkg" >/dev/null && command -v "$cmd" >/dev/null; then
      continue
    fi
    MOTE_NOT_INSTALLED+=("$cmd  (install: sudo apt-get install -y $pkg)")
  done
}

# Prints what could not be installed, one "  - " line each.
print_not_installed() {
  printf '  - %s\n' "${MOTE_NOT_INSTALLED[@]}"
}
