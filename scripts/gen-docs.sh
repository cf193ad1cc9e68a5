#!/bin/sh
# Man pages and shell completion, generated from the command table as the binary prints it
# (`berth --help`, `berth <command> --help`, `berth <command> <verb> --help`), so they never
# disagree with it.
# usage: scripts/gen-docs.sh man BERTH OUTDIR       berth.1, berth-<command>.1, berth.conf.5
#        scripts/gen-docs.sh bash BERTH > FILE      bash completion (zsh: through bashcompinit)
#        scripts/gen-docs.sh zsh BERTH > FILE
set -eu
what=$1
berth=$2
version=$("$berth" version | sed 's/^berth //')
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)

# the commands, then a command's verbs: the lines under "commands:" / "verbs:", first word
commands() { "$berth" --help 2>&1 | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } /^$/ && on { on = 0 }'; }
verbs() { "$berth" "$1" --help 2>&1 | awk '/^verbs:/ { on = 1; next } on && /^  [a-z]/ { print $1 } /^$/ && on { on = 0 }'; }
# a command's (or verb's) options: every --word its help names
options() { "$berth" "$@" --help 2>&1 | grep -oE '(^|[ ,[])--[a-z][a-z0-9-]*' | sed 's/^[ ,[]*//' | sort -u; }
summary() { "$berth" --help 2>&1 | awk -v c="$1" '$1 == c { $1 = ""; sub(/^ +/, ""); print; exit }'; }

# help text as roff, kept as printed (no fill): backslashes doubled, a line's leading . or ' guarded
roff_text() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

man_page() { # man_page NAME SECTION TITLE: the header
	printf '.TH %s %s "%s" "berth %s" "berth manual"\n' "$(echo "$1" | tr 'a-z' 'A-Z')" "$2" "$date" "$version"
	printf '.SH NAME\n%s \\- %s\n' "$1" "$3"
}

gen_man() {
	out=$1
	mkdir -p "$out"
	{
		man_page berth 1 "a container registry with Azure Container Registry's login and access model"
		printf '.SH SYNOPSIS\n.B berth\n.I command\n[\\fIoptions\\fR]\n.SH DESCRIPTION\n'
		printf 'One binary: \\fBberth serve\\fR runs the registry (the OCI Distribution API, the token service\n'
		printf 'and the management API on one port); the other commands are its command line. Installed as\n'
		printf '\\fBdocker-credential-berth\\fR it is a docker credential helper.\n.SH COMMANDS\n'
		for c in $(commands); do
			printf '.TP\n.BR berth\\-%s (1)\n%s\n' "$c" "$(summary "$c" | roff_text)"
		done
		printf '.SH FILES\n.TP\n.I /var/lib/berth\nthe data folder of the systemd unit (blobs, the SQLite database, signing keys)\n'
		printf '.TP\n.I /etc/berth/berth.env\nthe unit'"'"'s settings, as BERTH_* variables\n'
		printf '.SH SEE ALSO\n.BR berth.conf (5)\n'
	} >"$out/berth.1"
	for c in $(commands); do
		{
			man_page "berth-$c" 1 "$(summary "$c")"
			printf '.SH SYNOPSIS AND OPTIONS\n.nf\n'
			"$berth" "$c" --help 2>&1 | roff_text
			printf '.fi\n'
			for v in $(verbs "$c"); do
				printf '.SH %s\n.nf\n' "$(echo "$v" | tr 'a-z' 'A-Z')"
				"$berth" "$c" "$v" --help 2>&1 | roff_text
				printf '.fi\n'
			done
			printf '.SH SEE ALSO\n.BR berth (1)\n'
		} >"$out/berth-$c.1"
	done
	{
		man_page berth.conf 5 "the settings of berth serve"
		printf '.SH DESCRIPTION\nEach setting of \\fBberth serve\\fR comes, from lowest to highest precedence, from its\n'
		printf 'default, the JSON file that \\fB\\-\\-config\\fR names (keys as below), the environment\n'
		printf '(\\fBBERTH_\\fR and the key in capitals, \\- as _: \\fBBERTH_LISTEN\\fR), and the command line.\n'
		printf '.SH SETTINGS\n.nf\n'
		"$berth" serve --help 2>&1 | awk '/^options:/ { on = 1; next } on' | roff_text
		printf '.fi\n.SH SEE ALSO\n.BR berth\\-serve (1)\n'
	} >"$out/berth.conf.5"
}

gen_bash() {
	printf '# bash completion for berth (scripts/gen-docs.sh, from berth %s'"'"'s own help)\n' "$version"
	printf '_berth() {\n\tlocal cur=${COMP_WORDS[COMP_CWORD]} words\n'
	printf '\tif [ "$COMP_CWORD" -eq 1 ]; then\n\t\twords="%s"\n' "$(commands | tr '\n' ' ' | sed 's/ $//')"
	printf '\telif [ "$COMP_CWORD" -eq 2 ] && [ "${cur#-}" = "$cur" ]; then\n\t\tcase ${COMP_WORDS[1]} in\n'
	for c in $(commands); do
		vs=$(verbs "$c" | tr '\n' ' ' | sed 's/ $//')
		[ -n "$vs" ] && printf '\t\t%s) words="%s" ;;\n' "$c" "$vs"
	done
	printf '\t\t*) words="%s" ;;\n\t\tesac\n\telse\n\t\tcase "${COMP_WORDS[1]} ${COMP_WORDS[2]}" in\n' "--help"
	for c in $(commands); do
		vs=$(verbs "$c")
		if [ -n "$vs" ]; then
			for v in $vs; do
				printf '\t\t"%s %s") words="%s" ;;\n' "$c" "$v" "$(options "$c" "$v" | tr '\n' ' ' | sed 's/ $//')"
			done
		fi
		printf '\t\t"%s "*) words="%s" ;;\n' "$c" "$(options "$c" | tr '\n' ' ' | sed 's/ $//')"
	done
	printf '\t\tesac\n\tfi\n\tCOMPREPLY=($(compgen -W "$words" -- "$cur"))\n}\ncomplete -o default -F _berth berth\n'
}

case $what in
man) gen_man "$3" ;;
bash) gen_bash ;;
zsh)
	printf '#compdef berth\n# zsh completion for berth: the bash one, through bashcompinit\n'
	printf 'autoload -U +X bashcompinit && bashcompinit\n'
	gen_bash
	;;
*) echo "usage: $0 man BERTH OUTDIR | bash BERTH | zsh BERTH" >&2; exit 2 ;;
esac
