# az-lib.sh: what the Azure CLI tests (0140, 0141) share. Sourced after lib.sh.

# az_begin: skips the test without az; else the test's CA and server certificate in $T, and az's
# settings in $WORK/az, trusting that CA.
az_begin() {
    if ! command -v az >/dev/null 2>&1; then
        skip "az is not installed (scripts/deps.sh test installs azure-cli)"
        finish
    fi
    work_init
    T=$WORK/tls
    make_tls "$T"
    export AZURE_CONFIG_DIR=$WORK/az REQUESTS_CA_BUNDLE=$T/ca.pem AZURE_CORE_COLLECT_TELEMETRY=false \
        AZURE_CORE_NO_COLOR=true
}

# azr ARGS...: az with its output in $WORK/az.out and az.err, $AZ_OUT (stdout) and $AZ_ERR (stderr
# without warnings); $AZ_RC its status.
azr() {
    az "$@" >"$WORK/az.out" 2>"$WORK/az.err"
    AZ_RC=$?
    AZ_OUT=$(cat "$WORK/az.out")
    AZ_ERR=$(grep -v '^WARNING' "$WORK/az.err")
}

# az_json DESC JQ: the last az command succeeded and its JSON output passes JQ.
az_json() {
    if [ "$AZ_RC" = 0 ] && jq -e "$2" "$WORK/az.out" >/dev/null 2>&1; then
        ok "$1"
    else
        fail "$1" "az exited $AZ_RC; stdout: $(head -c 600 "$WORK/az.out")" "stderr: $(head -c 800 "$WORK/az.err")"
    fi
}

# az_fails DESC TEXT: the last az command failed, saying TEXT.
az_fails() {
    if [ "$AZ_RC" != 0 ] && grep -qF -- "$2" "$WORK/az.err"; then
        ok "$1"
    else
        fail "$1" "az exited $AZ_RC; stderr: $(head -c 800 "$WORK/az.err")"
    fi
}

# az_says DESC TEXT: the last az command succeeded and wrote TEXT (stdout or stderr).
az_says() {
    if [ "$AZ_RC" = 0 ] && grep -qF -- "$2" "$WORK/az.out" "$WORK/az.err"; then
        ok "$1"
    else
        fail "$1" "az exited $AZ_RC; stdout: $(head -c 400 "$WORK/az.out")" "stderr: $(head -c 800 "$WORK/az.err")"
    fi
}

# az_cloud FILE: registers and selects the custom cloud FILE describes (az cloud register --cloud-config).
az_cloud() {
    azr cloud register -n berth --cloud-config @"$1"
    check "az cloud register takes berth's endpoints" test "$AZ_RC" = 0
    azr cloud set -n berth
}
