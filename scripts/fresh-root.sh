#!/usr/bin/env bash
# Runs a command inside a brand-new Debian 12 root filesystem (debootstrap's
# minbase: apt, dpkg, bash, coreutils and little else), as a fresh machine
# would run it: none of this machine's installed packages are there, so a
# missing install step fails. CI runs the whole suite this way (.ci/run).
#
#   scripts/fresh-root.sh [--project] [--bind HOST:GUEST]... -- CMD [ARG...]
#
#   --project         copy this checkout (its tracked files and untracked ones
#                     that git does not ignore, as they are in the work tree)
#                     to /srv/project and run CMD there; ../shared, if there
#                     is one, is mounted read-only at /srv/shared beside it
#   --bind HOST:GUEST[:ro]  mount the folder HOST of this machine at GUEST
#                     inside (read-only with :ro)
#
# What the root gets from this machine: Node and npm (the README asks for a
# Node of one's own: Debian 12's is too old), npm's settings, the certificate
# authorities, apt's sources and proxy settings, and DNS. Everything else CMD
# installs itself.
#
# Needs root, and debootstrap and Debian's package mirror the first time.
# Kept between runs, outside any checkout, in $LTGBERT_CI_CACHE
# (default /var/cache/ltgbert-ci): the base image as a tarball (made once,
# unpacked anew for every run), apt's downloaded .deb files and npm's cache.
# Installing from them is still installing: they only save the downloads.
set -euo pipefail

if [ "${1:-}" = "__inside" ]; then
  # Second half, in a private mount namespace (see below): mount, chroot, run.
  shift
  root=$1
  shift
  while [ "$1" != "--" ]; do
    host=${1%%:*} guest=${1#*:} mode=rw
    case "$guest" in *:ro) guest=${guest%:ro} mode=ro ;; esac
    mkdir -p "$host" "$root$guest"
    mount --bind "$host" "$root$guest"
    [ "$mode" = ro ] && mount -o remount,bind,ro "$root$guest"
    shift
  done
  shift
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  workdir=/
  [ -d "$root/srv/project" ] && workdir=/srv/project
  exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM=dumb CI="${CI:-}" NODE_EXTRA_CA_CERTS=/etc/ssl/host-ca.crt DEBIAN_FRONTEND=noninteractive \
    bash -c 'cd "$0" && exec "$@"' "$workdir" "$@"
fi

project=0
binds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --project) project=1 ;;
    --bind) binds+=("$2"); shift ;;
    --) shift; break ;;
    *) echo "fresh-root: unknown option $1 (see the head of $0)" >&2; exit 2 ;;
  esac
  shift
done
[ $# -gt 0 ] || { echo "fresh-root: no command given (see the head of $0)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "fresh-root: needs root (chroot and mounts)" >&2; exit 1; }

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${LTGBERT_CI_CACHE:-/var/cache/ltgbert-ci}
base="$cache/bookworm-minbase.tar"
mkdir -p "$cache/apt-archives/partial" "$cache/npm"

if [ ! -f "$base" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  # The mirror this machine's apt uses, else Debian's own.
  mirror=$(grep -hoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    awk '{print $2}' | grep -v security | head -n 1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "fresh-root: making the base image with debootstrap (minbase, bookworm, $mirror)"
  tmp=$(mktemp -d "$cache/build.XXXX")
  if ! debootstrap --variant=minbase bookworm "$tmp" "$mirror" >"$cache/debootstrap.log" 2>&1; then
    rm -rf "$tmp"
    echo "fresh-root: debootstrap failed; its log: $cache/debootstrap.log" >&2
    exit 1
  fi
  tar -C "$tmp" -cf "$base.part" . && mv "$base.part" "$base" && rm -rf "$tmp"
fi

root=$(mktemp -d /var/tmp/ltgbert-root.XXXXXX)
cleanup() {
  # The mounts lived in the child's mount namespace and are gone with it;
  # check anyway before deleting, so nothing mounted is ever removed.
  if grep -q " $root" /proc/self/mounts; then
    echo "fresh-root: $root still has mounts; left in place" >&2
  else
    find "$root/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec cp -n -l -t "$cache/apt-archives" {} + 2>/dev/null ||
      find "$root/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec cp -n -t "$cache/apt-archives" {} + 2>/dev/null || true
    rm -rf "$root"
  fi
}
trap cleanup EXIT
tar -C "$root" -xf "$base"
# After the unpacking, which gives / the mode of debootstrap's temporary
# folder (700): other users (apt's _apt, a user with sudo) must reach /.
chmod 755 "$root"
echo "fresh-root: a new root at $root, unpacked from the base image of $(date -r "$base" '+%Y-%m-%d %H:%M') ($(du -sh "$base" | cut -f1)); no package installed by hand on this machine is in it"

# apt: this machine's sources and proxy settings.
if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
  cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/"
  rm -f "$root/etc/apt/sources.list"
elif [ -f /etc/apt/sources.list ]; then
  cp /etc/apt/sources.list "$root/etc/apt/sources.list"
fi
apt-config dump | grep -E '^Acquire::(https?::Proxy|Check-Valid-Until|Check-Date) ' >"$root/etc/apt/apt.conf.d/90host" || true
cp /etc/resolv.conf "$root/etc/resolv.conf"
# Node, npm and its settings, Node's headers (node-gyp and cmake-js build
# against them), and the certificate authorities (a registry may sit behind
# a proxy that only they vouch for), apart from Debian's own bundle.
cp "$(command -v node)" "$root/usr/bin/node"
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
mkdir -p "$root/usr/lib/node_modules" "$root/usr/include"
cp -a "$npm_dir" "$root/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/bin/npx"
[ -d /usr/include/node ] && cp -a /usr/include/node "$root/usr/include/node"
[ -f "$HOME/.npmrc" ] && cp "$HOME/.npmrc" "$root/root/.npmrc"
ca=${NODE_EXTRA_CA_CERTS:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
mkdir -p "$root/etc/ssl"
if [ -f "$ca" ]; then cp "$ca" "$root/etc/ssl/host-ca.crt"; else : >"$root/etc/ssl/host-ca.crt"; fi

# apt's downloads: hard links into the root's own archive folder, so that two
# roots at once never share apt's lock; what the run downloads is linked back
# into the cache afterwards (see cleanup). npm's cache takes concurrent use.
find "$cache/apt-archives" -maxdepth 1 -name '*.deb' -exec cp -n -l -t "$root/var/cache/apt/archives" {} + 2>/dev/null ||
  find "$cache/apt-archives" -maxdepth 1 -name '*.deb' -exec cp -n -t "$root/var/cache/apt/archives" {} +
mounts=("$cache/npm:/root/.npm" "${binds[@]}")
if [ "$project" = 1 ]; then
  mkdir -p "$root/srv/project"
  (cd "$top" && git ls-files -z -co --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
    tar --null -T - -cf -) | tar -C "$root/srv/project" -xf -
  if [ -d "$top/../shared" ]; then
    mkdir -p "$root/srv/shared"
    mounts+=("$(cd "$top/../shared" && pwd):/srv/shared:ro")
  fi
fi

echo "fresh-root: running: $*"
set +e
unshare --mount --propagation private -- bash "$0" __inside "$root" "${mounts[@]}" -- "$@"
status=$?
set -e
exit $status
