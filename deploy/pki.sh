#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# pki.sh — a small certificate authority for sluice, with the openssl CLI. It makes the CA,
# the controller's certificate (its addresses and names as subjectAltName), one certificate
# per agent (CN = node id, O = sluice:agent) and operators' certificates carrying a role
# (O = sluice:viewer, sluice:operator or sluice:admin), as DESIGN.md §4 and controller/authz.h
# read them. Keys are EC P-256, written 0600; files are replaced atomically, so a daemon
# reloading on SIGHUP never reads half a file.
#
#   deploy/pki.sh [--dir DIR] [--days N] [--force] COMMAND ...
#     ca                          the CA: DIR/ca.crt, DIR/ca.key (kept when it exists)
#     controller NAME ADDR...     DIR/controller-NAME.{crt,key}; ADDR is an IP or a DNS name
#     agent NODE                  DIR/agent-NODE.{crt,key}
#     operator NAME ROLE          DIR/user-NAME.{crt,key}; ROLE is viewer, operator or admin
#     show FILE                   subject, issuer, validity and names of a certificate
#
# DIR defaults to $SLUICE_PKI_DIR, else ./pki. --days: validity (CA 3650, others 365).
# An existing certificate is kept unless --force (renewal: --force, then SIGHUP the daemon).
set -euo pipefail

prog=pki.sh
dir=${SLUICE_PKI_DIR:-./pki}
days=
force=0

die() { echo "$prog: $*" >&2; exit 1; }
usage() { sed -n '/^#   deploy/,/^# An existing/p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

while [ $# -gt 0 ]; do
	case $1 in
	--dir) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
	--dir=*) dir=${1#--dir=}; shift ;;
	--days) [ $# -ge 2 ] || usage; days=$2; shift 2 ;;
	--days=*) days=${1#--days=}; shift ;;
	--force) force=1; shift ;;
	-h|--help) usage 0 ;;
	--) shift; break ;;
	-*) echo "$prog: unknown option '$1'" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
cmd=$1; shift
command -v openssl >/dev/null || die "openssl is missing (apt-get install openssl)"
if [ -n "$days" ] && ! [[ $days =~ ^[0-9]+$ && $days -ge 1 ]]; then
	die "--days '$days' is not a number of days (1 or more)"
fi

# A name that is safe as a file name and as a certificate subject.
check_name() { # check_name WHAT VALUE
	[[ $2 =~ ^[A-Za-z0-9][A-Za-z0-9._@-]{0,252}$ ]] ||
		die "$1 '$2': use letters, digits, '.', '_', '@' or '-' (starting with a letter or digit)"
}

# Writes stdin-produced content to FILE atomically with MODE.
install_file() { # install_file MODE SRC DST
	chmod "$1" "$2"
	mv -f "$2" "$3"
}

need_ca() {
	[ -f "$dir/ca.crt" ] && [ -f "$dir/ca.key" ] || die "no CA in $dir: make one first with: $0 --dir $dir ca"
}

make_ca() {
	mkdir -p "$dir"
	if [ -f "$dir/ca.crt" ] && [ $force = 0 ]; then
		echo "$prog: CA kept: $dir/ca.crt (--force replaces it, and every certificate it signed stops working)"
		return
	fi
	local tmp
	tmp=$(mktemp -d "$dir/.ca.XXXXXX")
	(umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$tmp/ca.key" -out "$tmp/ca.crt" -days "${days:-3650}" -subj "/O=sluice/CN=sluice CA" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" 2>"$tmp/log") || { cat "$tmp/log" >&2; rm -rf "$tmp"; die "cannot make the CA"; }
	install_file 600 "$tmp/ca.key" "$dir/ca.key"
	install_file 644 "$tmp/ca.crt" "$dir/ca.crt"
	rm -rf "$tmp"
	echo "$prog: CA: $dir/ca.crt (its key $dir/ca.key signs every certificate: keep it off the nodes)"
}

# issue BASENAME SUBJECT EXTENSIONS: a key and a certificate signed by the CA.
issue() {
	local base=$1 subj=$2 ext=$3 tmp
	need_ca
	if [ -f "$dir/$base.crt" ] && [ $force = 0 ]; then
		die "$dir/$base.crt exists; renew it with --force (then send the daemon SIGHUP)"
	fi
	tmp=$(mktemp -d "$dir/.$base.XXXXXX")
	printf '%s\n' "$ext" >"$tmp/ext"
	if ! (umask 077
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/key" \
			-out "$tmp/csr" -subj "$subj" &&
		openssl x509 -req -in "$tmp/csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
			-set_serial "0x$(openssl rand -hex 16)" -days "${days:-365}" -extfile "$tmp/ext" -out "$tmp/crt"
	) >"$tmp/log" 2>&1; then
		cat "$tmp/log" >&2
		rm -rf "$tmp"
		die "cannot issue $base"
	fi
	install_file 600 "$tmp/key" "$dir/$base.key"
	install_file 644 "$tmp/crt" "$dir/$base.crt"
	rm -rf "$tmp"
	echo "$prog: $subj: $dir/$base.crt, key $dir/$base.key (valid ${days:-365} days)"
}

leaf_ext() { # leaf_ext serverAuth|clientAuth
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' "$1"
}

case $cmd in
ca)
	[ $# -eq 0 ] || usage
	make_ca
	;;
controller)
	[ $# -ge 2 ] || die "controller NAME ADDR...: name the addresses and DNS names agents and sluicectl use (e.g. controller ctl1 10.0.0.1 ctl1.example.org 127.0.0.1)"
	name=$1; shift
	check_name "controller name" "$name"
	san=
	for a in "$@"; do
		a=${a#IP:}; a=${a#DNS:}
		if [[ $a =~ ^[0-9.]+$ || $a == *:* ]]; then
			san+="${san:+,}IP:$a"
		elif [[ $a =~ ^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]]; then
			san+="${san:+,}DNS:$a"
		else
			die "controller address '$a' is neither an IP address nor a DNS name"
		fi
	done
	issue "controller-$name" "/O=sluice/CN=$name" "$(leaf_ext serverAuth)
subjectAltName=$san"
	;;
agent)
	[ $# -eq 1 ] || die "agent NODE: the node id the agent runs with (--node-id)"
	check_name "node id" "$1"
	[[ $1 =~ ^[A-Za-z0-9._-]+$ ]] || die "node id '$1': use letters, digits, '.', '_' or '-' (as sluice-agent --node-id does)"
	issue "agent-$1" "/O=sluice:agent/CN=$1" "$(leaf_ext clientAuth)"
	;;
operator)
	[ $# -eq 2 ] || die "operator NAME ROLE: ROLE is viewer (read), operator (apply, rollouts) or admin (everything)"
	check_name "operator name" "$1"
	case $2 in
	viewer|operator|admin) ;;
	*) die "role '$2': use viewer (read), operator (apply, rollouts) or admin (everything)" ;;
	esac
	issue "user-$1" "/O=sluice:$2/CN=$1" "$(leaf_ext clientAuth)"
	;;
show)
	[ $# -eq 1 ] || usage
	openssl x509 -in "$1" -noout -subject -issuer -dates -ext subjectAltName,extendedKeyUsage 2>/dev/null ||
		openssl x509 -in "$1" -noout -subject -issuer -dates
	;;
*)
	echo "$prog: unknown command '$cmd'" >&2
	usage
	;;
esac
