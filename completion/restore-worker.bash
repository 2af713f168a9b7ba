# restore-worker.bash - bash completion for restore-worker(1), installed as
# /usr/share/bash-completion/completions/restore-worker (bash-completion loads it on demand;
# `source` it to use it without). It completes the commands, each command's options, the
# targets of the configuration (after --target), archives (files *.tar.gz, *.tgz, *.tar,
# *.backup, *.db, *.gz, folders, and for restore and submit the word latest and the names of the
# backups in backup_dir and previous/), and job ids (status: every job of the spool; cancel:
# the queued and active ones).
#
# The configuration is the one the command line names (-c FILE, --config FILE or
# --config=FILE, before or after the command), else $RESTORE_WORKER_CONFIG, else
# /etc/restore-worker/config.yaml; one that cannot be read gives no targets and no job ids.
# Its keys are read with awk, simply: the top-level "key: value" lines, and the names indented
# one level under "targets:" (a targets mapping written in YAML's flow style, {...}, gives
# none). tests/integration/completion.sh drives _restore_worker with COMP_WORDS and COMP_CWORD.

# The commands, and the options of each (besides -c/--config and --help, which all take).
_restore_worker_commands='inspect restore run submit status cancel list backup check'

# _restore_worker_command_options: the options of command $1, one word each.
_restore_worker_command_options() {
	case $1 in
	inspect) echo --json ;;
	restore) echo --target --db-only --dry-run --json ;;
	submit) echo --target --db-only --dry-run --wait ;;
	status) echo --json ;;
	list) echo --target --json ;;
	backup) echo --target --db-only --output --to-backup-dir --keep --json ;;
	check) echo --target --json ;;
	esac
	echo --config --help
}

# _restore_worker_takes_value: does option $1 take a value (the next word)?
_restore_worker_takes_value() {
	case $1 in
	-c | --config | --target | --output | --keep) return 0 ;;
	esac
	return 1
}

# _restore_worker_config_value: the value of top-level key $1 in configuration file $2
# (quotes and a trailing comment removed), or nothing.
_restore_worker_config_value() {
	awk -v key="$1" '
		$0 ~ "^" key ":" {
			v = substr($0, length(key) + 2)
			sub(/^[ \t]+/, "", v)
			if (v ~ /^"/) { v = substr(v, 2); sub(/".*$/, "", v) }
			else if (v ~ /^\x27/) { v = substr(v, 2); sub(/\x27.*$/, "", v) }
			else { sub(/[ \t]+#.*$/, "", v); sub(/[ \t]+$/, "", v) }
			print v
			exit
		}' "$2" 2>/dev/null
}

# _restore_worker_targets: the names of the targets of configuration file $1, one a line: the
# keys one level in under "targets:", up to the next top-level key.
_restore_worker_targets() {
	awk '
		/^targets:[ \t]*(#.*)?$/ { inside = 1; indent = -1; next }
		inside && /^[^ \t#]/ { inside = 0 }
		inside && /^[ \t]+[^ \t#]/ {
			match($0, /^[ \t]+/)
			if (indent < 0) indent = RLENGTH
			if (RLENGTH != indent) next
			name = substr($0, RLENGTH + 1)
			sub(/[ \t]*:.*$/, "", name)
			gsub(/^["\x27]|["\x27]$/, "", name)
			if (name != "") print name
		}' "$1" 2>/dev/null
}

# _restore_worker_job_ids: the job ids in spool folder $1: with $2 "all" those of active/,
# done/, failed/ and the job files submit wrote into incoming/; with "open" active/ and
# incoming/ only (the jobs cancel can reach).
_restore_worker_job_ids() {
	local spool=$1 which=$2 dir path name
	local dirs=(active)
	[ "$which" = all ] && dirs+=(done failed)
	for dir in "${dirs[@]}"; do
		for path in "$spool/$dir"/*/; do
			[ -d "$path" ] || continue
			path=${path%/}
			echo "${path##*/}"
		done
	done
	for path in "$spool"/incoming/submit-*.yaml "$spool"/incoming/*/submit-*.yaml; do
		[ -f "$path" ] || continue
		name=${path##*/submit-}
		echo "${name%.yaml}"
	done
}

# _restore_worker_backup_names: the Mendix-named backups (their file names) in
# <backup_dir>/<target>/ and <spool_dir>/previous/<target>/ of configuration file $1, for
# target $2 or, when it is empty, every target.
_restore_worker_backup_names() {
	local config=$1 target=$2 backup_dir spool_dir base dir path folders
	backup_dir=$(_restore_worker_config_value backup_dir "$config")
	spool_dir=$(_restore_worker_config_value spool_dir "$config")
	for base in ${backup_dir:+"$backup_dir"} ${spool_dir:+"$spool_dir/previous"}; do
		if [ -n "$target" ]; then folders=("$base/$target"); else folders=("$base"/*); fi
		for dir in "${folders[@]}"; do
			for path in "$dir"/files_and_database-*.tar.gz "$dir"/database-*.backup; do
				[ -f "$path" ] && echo "${path##*/}"
			done
		done
	done
	return 0
}

# _restore_worker_add_archives: add to COMPREPLY the archives and folders whose names start
# with $1.
_restore_worker_add_archives() {
	local path
	while IFS= read -r path; do
		if [ -d "$path" ]; then
			COMPREPLY+=("$path")
		else
			case $path in
			*.tar.gz | *.tgz | *.tar | *.backup | *.db | *.gz) COMPREPLY+=("$path") ;;
			esac
		fi
	done < <(compgen -f -- "$1")
	compopt -o filenames 2>/dev/null || true
}

# _restore_worker_add_words: add to COMPREPLY the words of $2 (one a line) that start with $1.
_restore_worker_add_words() {
	local word
	while IFS= read -r word; do
		[ -n "$word" ] && [[ $word == "$1"* ]] && COMPREPLY+=("$word")
	done <<<"$2"
	return 0
}

# _restore_worker: the completion function (complete -F) for restore-worker.
_restore_worker() {
	local cur=${COMP_WORDS[COMP_CWORD]:-} i word next command= config= target= operands=0
	local value_of=
	COMPREPLY=()

	# The words before the current one: the command, the configuration, the target, and how
	# many operands there are. "--config=FILE" may come as three words ("--config" "=" "FILE")
	# where COMP_WORDBREAKS holds "=", as it does by default.
	for ((i = 1; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]:-}
		case $word in
		--config=* | --target=*)
			[ "${word%%=*}" = --config ] && config=${word#*=} || target=${word#*=}
			continue
			;;
		esac
		if _restore_worker_takes_value "$word"; then
			next=$((i + 1))
			[ "${COMP_WORDS[next]:-}" = = ] && next=$((next + 1))
			if ((next >= COMP_CWORD)); then
				value_of=$word
				break
			fi
			case $word in
			-c | --config) config=${COMP_WORDS[next]} ;;
			--target) target=${COMP_WORDS[next]} ;;
			esac
			i=$next
		elif [[ $word == -* ]]; then
			:
		elif [ -z "$command" ]; then
			command=$word
		else
			operands=$((operands + 1))
		fi
	done
	[ "$cur" = = ] && [ -n "$value_of" ] && cur=
	if [ -z "$config" ]; then
		config=${RESTORE_WORKER_CONFIG:-/etc/restore-worker/config.yaml}
	fi
	[[ $config == "~/"* ]] && config=$HOME/${config#"~/"}
	[ -r "$config" ] && [ -f "$config" ] || config=

	case $value_of in
	-c | --config | --output)
		compopt -o filenames 2>/dev/null || true
		local path
		while IFS= read -r path; do COMPREPLY+=("$path"); done < <(compgen -f -- "$cur")
		return 0
		;;
	--target)
		[ -n "$config" ] && _restore_worker_add_words "$cur" "$(_restore_worker_targets "$config")"
		return 0
		;;
	--keep) return 0 ;;
	esac

	if [[ $cur == -* ]]; then
		if [ -z "$command" ]; then
			_restore_worker_add_words "$cur" $'-c\n--config\n-h\n--help\n-V\n--version'
		else
			_restore_worker_add_words "$cur" "$(_restore_worker_command_options "$command" | tr ' ' '\n')"
		fi
		return 0
	fi

	if [ -z "$command" ]; then
		_restore_worker_add_words "$cur" "$(tr ' ' '\n' <<<"$_restore_worker_commands")"
		return 0
	fi

	# The operand, once; the options when the command takes none (or has it).
	case $command in
	inspect)
		((operands == 0)) && _restore_worker_add_archives "$cur"
		;;
	restore | submit)
		if ((operands == 0)); then
			_restore_worker_add_archives "$cur"
			if [[ $cur != */* ]]; then
				_restore_worker_add_words "$cur" latest
				[ -n "$config" ] &&
					_restore_worker_add_words "$cur" "$(_restore_worker_backup_names "$config" "$target" | sort -u)"
			fi
		fi
		;;
	status | cancel)
		if ((operands == 0)) && [ -n "$config" ]; then
			local spool which=all
			[ "$command" = cancel ] && which=open
			spool=$(_restore_worker_config_value spool_dir "$config")
			[ -n "$spool" ] && _restore_worker_add_words "$cur" "$(_restore_worker_job_ids "$spool" "$which" | sort -u)"
		fi
		;;
	esac
	if [ ${#COMPREPLY[@]} -eq 0 ] && [ -z "$cur" ]; then
		_restore_worker_add_words "" "$(_restore_worker_command_options "$command" | tr ' ' '\n')"
	fi
	return 0
}

complete -F _restore_worker restore-worker
