#!/bin/sh
# gwlb-rig.sh: the blog post's Gateway Load Balancer topology on one Linux
# host, in network namespaces, for `wirebridge gwlb` (docs/appliance.md):
#
#   PREFIX-client 10.0.1.2 fd00:1::2 ──┐                     ┌── PREFIX-server 10.0.2.2 fd00:2::2
#                                      │                     │
#                            to-client 10.0.1.1   10.0.2.1 to-server
#                              PREFIX-gwlb (forwards; traffic between client and server
#                              is routed into the TUN gwlb0, where `wirebridge gwlb` reads it)
#                                      br-app 10.0.3.1 (the appliances' subnet)
#                                      │
#                 PREFIX-app1 10.0.3.2, PREFIX-app2 10.0.3.3, ... (Geneve appliances, UDP 6081)
#
# Every link has MTU 9001 (jumbo frames, as in a VPC); the TUN has MTU 8500,
# GWLB's largest inner packet. Policy routing in PREFIX-gwlb sends what
# arrives from the client or the server to table 100, whose default route is
# the TUN; what `wirebridge gwlb` writes back to the TUN is routed by the
# main table to its destination.
#
# Usage (as root):
#   scripts/gwlb-rig.sh up [PREFIX] [APPLIANCES]   build it (PREFIX default wb, 1 appliance)
#   scripts/gwlb-rig.sh down [PREFIX]              remove every namespace of PREFIX
set -eu

cmd=${1:-}
p=${2:-wb}
n=${3:-1}

down() {
	for ns in $(ip netns list | awk '{print $1}'); do
		case $ns in
		"$p-client" | "$p-server" | "$p-gwlb" | "$p-app"*) ip netns del "$ns" ;;
		esac
	done
}

up() {
	case $n in '' | *[!0-9]* | 0) echo "gwlb-rig: APPLIANCES must be 1..250" >&2; exit 2 ;; esac
	[ "$n" -le 250 ] || { echo "gwlb-rig: APPLIANCES must be 1..250" >&2; exit 2; }
	g=$p-gwlb
	for ns in "$p-client" "$p-server" "$g"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	sx() { ip netns exec "$g" sysctl -qw "$@"; }
	sx net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	# A packet the GWLB writes back to the TUN comes "from" the client or the
	# server on an interface their route does not use: no reverse-path filter.
	sx net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0

	# client and server: one veth each to the GWLB namespace.
	i=1
	for side in client server; do
		ns=$p-$side
		ip -n "$g" link add "to-$side" mtu 9001 type veth peer name eth0 netns "$ns" mtu 9001
		ip -n "$g" addr add "10.0.$i.1/24" dev "to-$side"
		ip -n "$g" addr add "fd00:$i::1/64" dev "to-$side" nodad
		ip -n "$g" link set "to-$side" up
		ip -n "$ns" addr add "10.0.$i.2/24" dev eth0
		ip -n "$ns" addr add "fd00:$i::2/64" dev eth0 nodad
		ip -n "$ns" link set eth0 up
		ip -n "$ns" route add default via "10.0.$i.1"
		ip -n "$ns" -6 route add default via "fd00:$i::1"
		ip -n "$g" rule add iif "to-$side" lookup 100 pref 100
		ip -n "$g" -6 rule add iif "to-$side" lookup 100 pref 100
		i=$((i + 1))
	done

	# appliances: one namespace each on a bridge, like targets in a subnet.
	ip -n "$g" link add br-app mtu 9001 type bridge
	ip -n "$g" addr add 10.0.3.1/24 dev br-app
	ip -n "$g" link set br-app up
	a=1
	while [ "$a" -le "$n" ]; do
		ns=$p-app$a
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		ip -n "$g" link add "to-app$a" mtu 9001 type veth peer name eth0 netns "$ns" mtu 9001
		ip -n "$g" link set "to-app$a" master br-app up
		ip -n "$ns" addr add "10.0.3.$((a + 1))/24" dev eth0
		ip -n "$ns" link set eth0 up
		ip -n "$ns" route add default via 10.0.3.1
		a=$((a + 1))
	done

	# The TUN, persistent so the routes can point at it before (and after)
	# `wirebridge gwlb` attaches to it.
	# No IPv6 link-local address on it: the kernel would send its own
	# multicast listener reports into the TUN, to the appliances.
	ip -n "$g" tuntap add dev gwlb0 mode tun
	ip -n "$g" link set gwlb0 addrgenmode none
	ip -n "$g" link set gwlb0 mtu 8500 up
	ip -n "$g" route add default dev gwlb0 table 100
	ip -n "$g" -6 route add default dev gwlb0 table 100
}

case $cmd in
up)
	trap 'down' EXIT
	up
	trap - EXIT
	;;
down) down ;;
*)
	echo "usage: $0 up [PREFIX] [APPLIANCES] | down [PREFIX]" >&2
	exit 2
	;;
esac
