# tests/faults/faults-lib.sh - helpers shared by the fault-injection tests (sourced).
#
# Owns: small helpers on top of tests/milter/milter-lib.sh (sourced here):
# the last decision logged for a domain, a global emulator fault, and a
# milter-still-answers probe.  Does not own the milter, the emulator or
# the DNS servers.
#
#   fl_decision DOMAIN [OFFSET] the last decision line logged for DOMAIN after
#                              OFFSET (default $ML_MARK: since the last ml_msg)
#   fl_global FAULT|none       every API request (list included) gets FAULT
#   fl_global_json JSON        set the scenario's "global" section
#   fl_domains SPEC-JSON D...  set the same spec for several domains
. "$top_srcdir/tests/milter/milter-lib.sh"

# fl_decision DOMAIN [OFFSET] - the last "domain=DOMAIN ... action=" line the
# milter logged after OFFSET (default $ML_MARK, which ml_msg sets before each
# message): never a line an earlier message left; waits up to 5 s for it
fl_decision() {
	local from=${2:-$ML_MARK} i line
	for ((i = 0; i < 100; i++)); do
		line=$(log_since "$ML_LOG" "$from" | grep -F "domain=$1 " | grep ' action=' | tail -n 1)
		[ -n "$line" ] && break
		sleep 0.05
	done
	printf '%s\n' "$line"
}

# fl_global_json JSON - replace the scenario's "global" section
fl_global_json() {
	python3 - "$EMU_SCENARIO" "$1" <<'PY'
import json, os, sys
path, spec = sys.argv[1:3]
data = json.load(open(path))
data["global"] = json.loads(spec)
with open(path + ".new", "w") as f:
    json.dump(data, f, indent=1)
os.replace(path + ".new", path)
PY
}

# fl_global FAULT|none - every request gets FAULT (fault_rate 1), or none
fl_global() {
	if [ "$1" = none ]; then
		fl_global_json '{}'
	else
		fl_global_json "{\"fault_rate\": 1, \"faults\": [\"$1\"]}"
	fi
}

# fl_domains SPEC-JSON DOMAIN... - the same spec for each DOMAIN
fl_domains() {
	python3 - "$EMU_SCENARIO" "$@" <<'PY'
import json, os, sys
path, spec, doms = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
data = json.load(open(path))
for d in doms:
    data.setdefault("domains", {})[d] = spec
with open(path + ".new", "w") as f:
    json.dump(data, f, indent=1)
os.replace(path + ".new", path)
PY
}
