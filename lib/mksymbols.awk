# mksymbols.awk - the export list of libsesverify, read from lib/sesverify.h
#
#	awk -f lib/mksymbols.awk lib/sesverify.h > lib/sesverify.sym
#
#	Prints one name per line: every function declared (and every
#	variable declared extern) at file scope in the public header,
#	in the order of the header.  libtool's -export-symbols links
#	the shared object with exactly these names, so what the header
#	declares is the library's ABI and nothing else is.  Typedefs,
#	struct/enum definitions, macros and the __cplusplus guard are
#	skipped; a declaration may span several lines.
BEGIN { depth = 0; incomment = 0; stmt = ""; cplusplus = 0 }
{
	line = $0
	# comments (possibly spanning lines) become blanks
	out = ""
	while (line != "") {
		if (incomment) {
			i = index(line, "*/")
			if (i == 0) { line = ""; break }
			line = substr(line, i + 2); incomment = 0
		} else {
			i = index(line, "/*")
			if (i == 0) { out = out line; line = ""; break }
			out = out substr(line, 1, i - 1) " "
			line = substr(line, i + 2); incomment = 1
		}
	}
	line = out
	if (line ~ /^[ \t]*#[ \t]*ifdef[ \t]+__cplusplus/) { cplusplus = 1; next }
	if (cplusplus) { if (line ~ /^[ \t]*#[ \t]*endif/) cplusplus = 0; next }
	if (line ~ /^[ \t]*#/) next
	# keep only what lies at brace depth 0 (drop struct and enum bodies)
	for (k = 1; k <= length(line); k++) {
		c = substr(line, k, 1)
		if (c == "{") { depth++; continue }
		if (c == "}") { depth--; continue }
		if (depth > 0) continue
		if (c == ";") { emit(stmt); stmt = ""; continue }
		stmt = stmt c
	}
	stmt = stmt " "
}
function emit(s,    name) {
	gsub(/[ \t]+/, " ", s); sub(/^ /, "", s)
	if (s ~ /^typedef / || s ~ /^(struct|enum|union) [A-Za-z_0-9]* ?$/ || s == "")
		return
	if (index(s, "(") > 0) {
		# a function: the identifier right before the first "("
		s = substr(s, 1, index(s, "(") - 1)
		sub(/ +$/, "", s)
		if (match(s, /[A-Za-z_][A-Za-z_0-9]*$/)) print substr(s, RSTART, RLENGTH)
	} else if (s ~ /^extern /) {
		sub(/ *(\[[^]]*\])* *$/, "", s)
		if (match(s, /[A-Za-z_][A-Za-z_0-9]*$/)) print substr(s, RSTART, RLENGTH)
	}
}
END {
	if (depth != 0 || incomment || stmt ~ /[^ \t]/) {
		print "mksymbols.awk: " FILENAME ": unbalanced braces or unterminated declaration" > "/dev/stderr"
		exit 1
	}
}
