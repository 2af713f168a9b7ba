#!/usr/bin/env bash
# faults.sh - the workers of a chaos run and the faults injected into them (sourced by
# chaos.sh, which defines what these use: CONFIG, NWORKERS, TARGETS, T_JOB, J_SRC, and the
# functions event and violate).
#
# Workers are started with worker_lib.sh's worker_start and tended: one that ended is reaped
# (by itself: a violation; after SIGTERM: it must exit 0 within 30 s) and started again a
# second later. fault draws one fault and injects it, counting it in FAULTS by kind, or in
# MISSES when there was nothing to hit (no job child, no pg_restore, no session).

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	echo "faults.sh is sourced by chaos.sh (run scripts/chaos)" >&2
	exit 2
fi

declare -a W_PID=() W_STATE=() W_SINCE=()
declare -A FAULTS=() MISSES=()

# start_worker: start worker $1 (an index).
start_worker() {
	worker_start "$CONFIG"
	W_PID[$1]=$WORKER_PID
	W_STATE[$1]=up
	W_SINCE[$1]=$(now)
	event "worker $1 started (pid $WORKER_PID)"
}

# reap_worker: collect worker $1's exit status into REAPED (it has ended).
reap_worker() {
	REAPED=0
	wait "${W_PID[$1]}" 2>/dev/null || REAPED=$?
	forget_worker "${W_PID[$1]}"
}

# tend_workers: reap workers that ended, start again those down for a moment; with $1 = now,
# start them at once.
tend_workers() {
	local i t
	t=$(now)
	for ((i = 0; i < NWORKERS; i++)); do
		case ${W_STATE[$i]} in
		up)
			if ! pid_running "${W_PID[$i]}"; then
				reap_worker "$i"
				violate worker_died - "worker $i (pid ${W_PID[$i]}) ended by itself, status $REAPED"
				W_STATE[$i]=down
				W_SINCE[$i]=$t
			fi
			;;
		term)
			if ! pid_running "${W_PID[$i]}"; then
				reap_worker "$i"
				[ "$REAPED" = 0 ] ||
					violate worker_stop_status - "worker $i (pid ${W_PID[$i]}) exited with status $REAPED after SIGTERM"
				event "worker $i stopped after SIGTERM (status $REAPED)"
				W_STATE[$i]=down
				W_SINCE[$i]=$t
			elif awk -v a="$t" -v b="${W_SINCE[$i]}" 'BEGIN { exit !(a - b > 30) }'; then
				violate worker_ignored_sigterm - "worker $i (pid ${W_PID[$i]}) still runs 30 s after SIGTERM; killed"
				kill -KILL "${W_PID[$i]}" 2>/dev/null
			fi
			;;
		killed)
			reap_worker "$i"
			W_STATE[$i]=down
			;;
		down)
			if [ -n "${NO_RESTART:-}" ]; then
				:
			elif [ "${1:-}" = now ] || awk -v a="$t" -v b="${W_SINCE[$i]}" 'BEGIN { exit !(a - b > 1) }'; then
				start_worker "$i"
			fi
			;;
		esac
	done
}

# descendants: print "pid ppid comm" of every process below the running workers.
descendants() {
	local roots=() i
	for ((i = 0; i < NWORKERS; i++)); do
		[ "${W_STATE[$i]}" = down ] || roots+=("${W_PID[$i]}")
	done
	ps -e -o pid=,ppid=,comm= | awk -v roots="${roots[*]}" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) inside[r[i]] = 1 }
		{ pid[NR] = $1; ppid[NR] = $2; comm[NR] = $3 }
		END {
			do {
				grew = 0
				for (i = 1; i <= NR; i++)
					if (!(pid[i] in inside) && (ppid[i] in inside)) {
						inside[pid[i]] = 1; grew = 1; print pid[i], ppid[i], comm[i]
					}
			} while (grew)
		}'
}

# pick: print one of the lines on stdin at random (nothing when there are none).
pick() {
	local lines=()
	mapfile -t lines
	[ ${#lines[@]} -gt 0 ] && echo "${lines[RANDOM % ${#lines[@]}]}"
}

# up_worker: print the index of a running worker at random (nothing when none runs).
up_worker() {
	local i
	for ((i = 0; i < NWORKERS; i++)); do
		[ "${W_STATE[$i]}" = up ] && echo "$i"
	done | pick
}

# is_worker_pid: true when pid $1 is one of the workers.
is_worker_pid() {
	local i
	for ((i = 0; i < NWORKERS; i++)); do
		[ "${W_STATE[$i]}" != down ] && [ "${W_PID[$i]}" = "$1" ] && return 0
	done
	return 1
}

# fault: inject one fault, drawn at random.
fault() {
	local r=$((RANDOM % 100)) kind victim='' i n
	if [ $r -lt 15 ]; then kind=kill_worker
	elif [ $r -lt 35 ]; then kind=kill_job_child
	elif [ $r -lt 55 ]; then kind=kill_pg_restore
	elif [ $r -lt 68 ]; then kind=sigterm_worker
	elif [ $r -lt 84 ]; then kind=server_restart
	else kind=terminate_backends
	fi
	case $kind in
	kill_worker | sigterm_worker)
		i=$(up_worker)
		if [ -z "$i" ]; then
			MISSES[$kind]=$((${MISSES[$kind]:-0} + 1))
			return
		fi
		if [ $kind = kill_worker ]; then
			kill -KILL "${W_PID[$i]}" 2>/dev/null
			W_STATE[$i]=killed
		else
			kill -TERM "${W_PID[$i]}" 2>/dev/null
			W_STATE[$i]=term
		fi
		W_SINCE[$i]=$(now)
		victim="worker $i (pid ${W_PID[$i]})"
		;;
	kill_job_child)
		victim=$(descendants | while read -r pid ppid comm; do
			is_worker_pid "$ppid" && echo "$pid $comm"
		done | pick)
		;;
	kill_pg_restore)
		victim=$(descendants | awk '$3 == "pg_restore" { print $1, $3 }' | pick)
		;;
	server_restart)
		if as_cluster_owner "$CLUSTER_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w restart \
			>>"$EVENTS" 2>&1; then
			victim=server
		else
			echo "chaos: the server did not restart (see $PG_DIR/server.log)" >&3
			tail -n 20 "$PG_DIR/server.log" >&3
			exit 2
		fi
		;;
	terminate_backends)
		n=$(sql postgres "select count(pg_terminate_backend(pid)) from pg_stat_activity
			where application_name = 'restore-worker' and pid <> pg_backend_pid()" 2>>"$EVENTS")
		[ "${n:-0}" -gt 0 ] 2>/dev/null && victim="$n session(s)"
		;;
	esac
	if [ -z "${victim:-}" ]; then
		MISSES[$kind]=$((${MISSES[$kind]:-0} + 1))
		return
	fi
	case $kind in
	kill_job_child | kill_pg_restore)
		kill -KILL "${victim%% *}" 2>/dev/null
		victim="pid $victim"
		;;
	esac
	FAULTS[$kind]=$((${FAULTS[$kind]:-0} + 1))
	event "fault $kind: $victim (running: $(for t in "${TARGETS[@]}"; do
		[ -n "${T_JOB[$t]}" ] && printf '%s ' "${J_SRC[${T_JOB[$t]}]}"
	done))"
}
