#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# lab.sh — a sluice lab in network namespaces, sourced by the quickstart and the e2e tests.
#
#   ctl  (controller)  10.98.1.1 ── 10.98.1.2  gw1 (agent, XDP on g1a)
#                      10.98.2.1 ── 10.98.2.2  gw2 (agent, XDP on g2a)
#   cli  10.99.1.1 ── g1a 10.99.1.254 [gw1] g1b 10.99.2.254 ── 10.99.2.1  srv
#   cli  10.99.3.1 ── g2a 10.99.3.254 [gw2] g2b 10.99.4.254 ── 10.99.4.1  srv
#
# Every address and route lives inside the lab's own namespaces; nothing is added to the
# root namespace, so no lab packet can leave by a real interface. Names carry a per-run
# prefix (LAB), and lab_down removes exactly what lab_up made: the namespaces, the
# processes it started (by PID), and the agents' pin directories.
#
# Everything speaks mTLS with certificates lab_up makes with deploy/pki.sh in $LAB_PKI: the
# controller's (for 10.98.1.1, 10.98.2.1 and 127.0.0.1), one per agent (CN = node id) and
# one per role for sluicectl (lab-admin, lab-operator, lab-viewer). `ctl` runs sluicectl as
# lab-admin, `ctl_as USER` as another. LAB_INSECURE=1 runs the lab in plaintext instead
# (--insecure; the controller then also needs --insecure-allow-remote), for tests that
# exercise --insecure itself.
#
# Use: source deploy/lab/lab.sh; lab_up; lab_start_controller; lab_start_agent gw1 ...; lab_down
# Routes (VIP -> backends): lab_add_backend puts backend namespaces behind a gateway,
# lab_serve_http runs a tagged HTTP server in one, lab_route_vip sends VIPs to a gateway.

LAB=${LAB:-sl$(printf '%04x' $((RANDOM % 65536)))}
LAB_DIR=${LAB_DIR:-$(mktemp -d "/tmp/sluice-$LAB.XXXXXX")}
LAB_BIN=${LAB_BIN:-${SLUICE_BIN:-$(pwd)/build/bin}}
LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_INSECURE=${LAB_INSECURE:-0}
LAB_PKI=$LAB_DIR/pki
LAB_BPFFS=/run/sluice/bpffs
LAB_PORT=7443
LAB_NS=(ctl cli gw1 gw2 srv)
declare -A LAB_PID=()
LAB_EXTRA_GW=() # gateways added by lab_add_gateway
LAB_MOUNTED_BPFFS=0

ns() { echo "$LAB-$1"; }
in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }
lab_log() { echo "lab: $*" >&2; }

# veth NS1 DEV1 ADDR1 NS2 DEV2 ADDR2: a veth pair made directly inside the namespaces.
lab_veth() {
	ip -n "$(ns "$1")" link add "$2" type veth peer name "$5" netns "$(ns "$4")"
	ip -n "$(ns "$1")" addr add "$3" dev "$2"
	ip -n "$(ns "$4")" addr add "$6" dev "$5"
	ip -n "$(ns "$1")" link set dev "$2" up
	ip -n "$(ns "$4")" link set dev "$5" up
	# Real checksums on the wire (veth would otherwise leave them partial).
	in_ns "$1" ethtool -K "$2" tx off rx off >/dev/null 2>&1 || true
	in_ns "$4" ethtool -K "$5" tx off rx off >/dev/null 2>&1 || true
}

lab_up() {
	local n
	for n in "${LAB_NS[@]}"; do
		ip netns add "$(ns "$n")"
		ip -n "$(ns "$n")" link set lo up
	done
	lab_veth ctl m1 10.98.1.1/30 gw1 mgmt 10.98.1.2/30
	lab_veth ctl m2 10.98.2.1/30 gw2 mgmt 10.98.2.2/30
	lab_veth cli c1 10.99.1.1/24 gw1 g1a 10.99.1.254/24
	lab_veth gw1 g1b 10.99.2.254/24 srv s1 10.99.2.1/24
	lab_veth cli c2 10.99.3.1/24 gw2 g2a 10.99.3.254/24
	lab_veth gw2 g2b 10.99.4.254/24 srv s2 10.99.4.1/24
	in_ns gw1 sysctl -qw net.ipv4.ip_forward=1
	in_ns gw2 sysctl -qw net.ipv4.ip_forward=1
	ip -n "$(ns cli)" route add 10.99.2.0/24 via 10.99.1.254
	ip -n "$(ns cli)" route add 10.99.4.0/24 via 10.99.3.254
	ip -n "$(ns srv)" route add 10.99.1.0/24 via 10.99.2.254
	ip -n "$(ns srv)" route add 10.99.3.0/24 via 10.99.4.254

	# Agents in namespaces need a bpffs their pins outlive them on (see shared notes).
	mkdir -p "$LAB_BPFFS"
	if ! mountpoint -q "$LAB_BPFFS"; then
		mount -t bpf bpf "$LAB_BPFFS"
		LAB_MOUNTED_BPFFS=1
	fi
	[ "$LAB_INSECURE" = 1 ] || lab_pki
	lab_log "namespaces $LAB-{${LAB_NS[*]}} up; files in $LAB_DIR"
}

# The lab's certificates (deploy/pki.sh): a CA, the controller's, both agents', and one
# sluicectl user per role.
lab_pki() {
	local pki=(bash "$LAB_SRC/deploy/pki.sh" --dir "$LAB_PKI")
	{
		"${pki[@]}" ca &&
		"${pki[@]}" controller ctl 10.98.1.1 10.98.2.1 127.0.0.1 localhost &&
		"${pki[@]}" agent gw1 && "${pki[@]}" agent gw2 &&
		"${pki[@]}" operator lab-admin admin &&
		"${pki[@]}" operator lab-operator operator &&
		"${pki[@]}" operator lab-viewer viewer
	} >/dev/null || { lab_log "cannot make the lab's certificates in $LAB_PKI"; return 1; }
}

# lab_tls NAME: the TLS flags for the certificate NAME (controller-ctl, agent-gw1, user-lab-admin).
lab_tls() { echo "--tls-cert $LAB_PKI/$1.crt --tls-key $LAB_PKI/$1.key --tls-ca $LAB_PKI/ca.crt"; }

# Starts a background process inside a namespace and remembers its PID under KEY.
lab_spawn() {
	local key=$1 n=$2 log=$3; shift 3
	ip netns exec "$(ns "$n")" "$@" >>"$log" 2>&1 &
	LAB_PID[$key]=$!
}

lab_start_controller() {
	local sec
	if [ "$LAB_INSECURE" = 1 ]; then sec="--insecure --insecure-allow-remote"; else sec=$(lab_tls controller-ctl); fi
	# shellcheck disable=SC2086 # $sec is words of flags; paths have no spaces
	lab_spawn controller ctl "$LAB_DIR/controller.log" \
		"$LAB_BIN/sluice-controller" --listen 0.0.0.0:$LAB_PORT --db "$LAB_DIR/controller.db" $sec "$@"
	lab_wait 10 "controller listening" in_ns ctl bash -c "echo > /dev/tcp/127.0.0.1/$LAB_PORT" 2>/dev/null
}

# lab_start_agent gw1|gw2 [extra flags]
lab_start_agent() {
	local gw=$1; shift
	local ctl_ip iface
	case $gw in
	gw1) ctl_ip=10.98.1.1 iface=g1a ;;
	gw2) ctl_ip=10.98.2.1 iface=g2a ;;
	esac
	local sec
	if [ "$LAB_INSECURE" = 1 ]; then sec=--insecure; else sec=$(lab_tls "agent-$gw"); fi
	mkdir -p "$LAB_DIR/$gw"
	# shellcheck disable=SC2086
	lab_spawn "$gw" "$gw" "$LAB_DIR/$gw.log" \
		"$LAB_BIN/sluice-agent" --controller "$ctl_ip:$LAB_PORT" --node-id "$gw" --label env=lab --label "gw=$gw" \
		--iface "$iface" --xdp-mode "${LAB_XDP_MODE:-auto}" --pin-dir "$LAB_BPFFS/$LAB-$gw" --state-dir "$LAB_DIR/$gw" \
		$sec "$@"
}

# lab_add_gateway gwN (N >= 3): one more gateway for tests that need more agents. It has a
# management link to ctl (10.98.N.1 -- 10.98.N.2) with a route to 10.98.1.1 through it (the
# controller address its certificate names), and an interface gNa (10.99.(2N-1).254) to the
# client namespace for XDP; no traffic is routed through it. Its agent starts with
# lab_start_extra_agent; lab_down removes it with the rest.
lab_add_gateway() {
	local gw=$1 n=${1#gw}
	ip netns add "$(ns "$gw")" || return 1
	LAB_NS+=("$gw")
	LAB_EXTRA_GW+=("$gw")
	ip -n "$(ns "$gw")" link set lo up
	lab_veth ctl "m$n" "10.98.$n.1/30" "$gw" mgmt "10.98.$n.2/30"
	ip -n "$(ns "$gw")" route add 10.98.1.1/32 via "10.98.$n.1"
	lab_veth cli "c$n" "10.99.$((2 * n - 1)).1/24" "$gw" "g${n}a" "10.99.$((2 * n - 1)).254/24"
	if [ "$LAB_INSECURE" != 1 ]; then
		bash "$LAB_SRC/deploy/pki.sh" --dir "$LAB_PKI" agent "$gw" >/dev/null ||
			{ lab_log "cannot make the certificate of $gw"; return 1; }
	fi
}

# lab_start_extra_agent gwN [extra flags]: the agent of a gateway from lab_add_gateway,
# labelled like the others (env=lab, gw=gwN).
lab_start_extra_agent() {
	local gw=$1 n=${1#gw} sec; shift
	if [ "$LAB_INSECURE" = 1 ]; then sec=--insecure; else sec=$(lab_tls "agent-$gw"); fi
	mkdir -p "$LAB_DIR/$gw"
	# shellcheck disable=SC2086
	lab_spawn "$gw" "$gw" "$LAB_DIR/$gw.log" \
		"$LAB_BIN/sluice-agent" --controller "10.98.1.1:$LAB_PORT" --node-id "$gw" --label env=lab --label "gw=$gw" \
		--iface "g${n}a" --xdp-mode "${LAB_XDP_MODE:-auto}" --pin-dir "$LAB_BPFFS/$LAB-$gw" --state-dir "$LAB_DIR/$gw" \
		$sec "$@"
}

# lab_add_backend NAME GW N: a backend namespace NAME behind gateway GW (gw1|gw2) on a
# link of its own, for routes (VIP -> backends): GW's interface NAME, 10.99.N.254/24, to
# NAME's eth0, 10.99.N.1/24, whose default route is the gateway. Replies reach the
# gateway on that interface, so its agent needs it as well (lab_start_agent GW --iface
# NAME). lab_down removes it with the rest. N: 20-99 (lower ones are the lab's own).
lab_add_backend() {
	local name=$1 gw=$2 n=$3
	ip netns add "$(ns "$name")" || return 1
	LAB_NS+=("$name")
	ip -n "$(ns "$name")" link set lo up
	lab_veth "$gw" "$name" "10.99.$n.254/24" "$name" eth0 "10.99.$n.1/24"
	ip -n "$(ns "$name")" route add default via "10.99.$n.254"
}

# lab_serve_http NAME ADDR PORT TAG: /usr/bin/python3 -m http.server in namespace NAME on
# ADDR:PORT (HTTP/1.1, so connections can stay open), serving /tag, whose body is TAG.
lab_serve_http() {
	local name=$1 addr=$2 port=$3 tag=$4 dir="$LAB_DIR/www-$1-$3"
	mkdir -p "$dir" && printf '%s\n' "$tag" >"$dir/tag"
	lab_spawn "http-$name-$port" "$name" "$LAB_DIR/http-$name.log" \
		/usr/bin/python3 -m http.server "$port" --bind "$addr" --directory "$dir" --protocol HTTP/1.1
	lab_wait 10 "http server in $name on $addr:$port" in_ns "$name" bash -c "echo > /dev/tcp/$addr/$port" 2>/dev/null
}

# lab_route_vip CIDR GW: the client namespace sends CIDR (routes' VIPs) to gateway GW.
lab_route_vip() {
	local via
	case $2 in
	gw1) via=10.99.1.254 ;;
	gw2) via=10.99.3.254 ;;
	*) lab_log "lab_route_vip: no gateway $2"; return 1 ;;
	esac
	ip -n "$(ns cli)" route add "$1" via "$via"
}

lab_kill() { # lab_kill KEY [SIGNAL]
	local pid=${LAB_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill "-${2:-TERM}" "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "LAB_PID[$1]"
}

# sluicectl in the controller's namespace, as lab-admin (ctl) or as USER (ctl_as USER).
ctl() { ctl_as lab-admin "$@"; }
ctl_as() {
	local user=$1 sec; shift
	if [ "$LAB_INSECURE" = 1 ]; then sec=--insecure; else sec=$(lab_tls "user-$user"); fi
	# shellcheck disable=SC2086
	in_ns ctl "$LAB_BIN/sluicectl" --controller 127.0.0.1:$LAB_PORT $sec "$@"
}

# lab_wait SECONDS WHAT COMMAND...: retries COMMAND until it succeeds.
lab_wait() {
	local secs=$1 what=$2; shift 2
	local deadline=$((SECONDS + secs))
	until "$@"; do
		if [ $SECONDS -ge $deadline ]; then
			lab_log "timed out after ${secs}s waiting for: $what"
			return 1
		fi
		sleep 0.2
	done
}

# Traffic: a TCP service answering "ok" and UDP sinks that log each datagram.
lab_start_servers() {
	local port
	for port in "$@"; do
		case $port in
		tcp:*) lab_spawn "srv-$port" srv "$LAB_DIR/srv.log" \
			socat TCP-LISTEN:"${port#tcp:}",fork,reuseaddr SYSTEM:"echo ok" ;;
		udp:*) lab_spawn "srv-$port" srv "$LAB_DIR/srv.log" \
			socat -u UDP-RECV:"${port#udp:}",reuseaddr OPEN:"$LAB_DIR/udp-${port#udp:}.log",creat,append ;;
		esac
	done
	sleep 0.5
}

# tcp_ok DST PORT: exit 0 when a TCP connection through the gateway gets "ok" back.
tcp_ok() {
	[ "$(in_ns cli timeout 3 socat -T2 - TCP:"$1:$2",connect-timeout=2 </dev/null 2>/dev/null)" = ok ]
}

# udp_ok DST PORT: exit 0 when a datagram arrives at the sink.
udp_ok() {
	local tag="probe-$RANDOM$RANDOM" i
	echo "$tag" | in_ns cli socat -u - UDP:"$1:$2" 2>/dev/null
	for i in 1 2 3 4 5 6 7 8 9 10; do
		grep -q "$tag" "$LAB_DIR/udp-$2.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

lab_down() {
	local key n
	for key in "${!LAB_PID[@]}"; do
		lab_kill "$key" TERM
	done
	for n in "${LAB_NS[@]}"; do
		ip netns del "$(ns "$n")" 2>/dev/null || true
	done
	for n in gw1 gw2 "${LAB_EXTRA_GW[@]}"; do
		if [ -d "$LAB_BPFFS/$LAB-$n" ]; then
			rm -f "$LAB_BPFFS/$LAB-$n"/* && rmdir "$LAB_BPFFS/$LAB-$n" 2>/dev/null || true
		fi
	done
	# Empty but for the iterators the kernel's bpf_preload puts in every bpffs.
	if [ "$LAB_MOUNTED_BPFFS" = 1 ] &&
		[ -z "$(ls -A "$LAB_BPFFS" 2>/dev/null | grep -vx -e maps.debug -e progs.debug)" ]; then
		umount "$LAB_BPFFS" 2>/dev/null && rmdir "$LAB_BPFFS" /run/sluice 2>/dev/null || true
	fi
	if [ "${LAB_KEEP_FILES:-0}" != 1 ]; then
		rm -rf "$LAB_DIR"
	fi
}
