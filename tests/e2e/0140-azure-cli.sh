#!/usr/bin/env bash
# The Azure CLI (Debian's azure-cli) against berth through a custom cloud:
# `az acr repository` and `az acr manifest` with -u/-p get their tokens from
# berth (metadata_read, metadata_write, delete) and read and change what
# /acr/v1 serves. The cloud's acrLoginServerEndpoint is ":PORT", so registry
# "localhost" has the login server localhost:PORT, served over TLS with a CA
# of this test (REQUESTS_CA_BUNDLE). Commands that need `az login` (ARM and
# Azure AD) are in 0141.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/health-lib.sh"
. "$(dirname "$0")/az-lib.sh"

az_begin
SCHEME=https BERTH_AUTH=1 berth_start_on 127.0.0.1 --tls-cert "$T/srv.pem" --tls-key "$T/srv.key"
PW=$(cat "$DATA/initial-owner-password")
cat >"$WORK/cloud.json" <<JSON
{"endpoints": {"resourceManager": "https://localhost:$PORT/", "activeDirectory": "https://localhost:$PORT",
  "activeDirectoryResourceId": "https://localhost:$PORT/", "activeDirectoryGraphResourceId": "https://localhost:$PORT/",
  "management": "https://localhost:$PORT/"},
 "suffixes": {"acrLoginServerEndpoint": ":$PORT"}}
JSON
az_cloud "$WORK/cloud.json"
L=(-n localhost -u owner -p "$PW")

# an image with two tags, pushed with curl
A=(--cacert "$T/ca.pem" -u "owner:$PW")
cfg=$WORK/cfg.json
printf '{"architecture":"amd64","os":"linux"}' >"$cfg"
rand_file "$WORK/layer" 30000
for f in "$cfg" "$WORK/layer"; do
    curl -s "${A[@]}" -o /dev/null -X POST "https://localhost:$PORT/v2/acr/app/blobs/uploads/?digest=$(digest_of "$f")" \
        --data-binary @"$f"
done
printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[%s]}' "$MT_OCI_MANIFEST" \
    "$(desc_json "$MT_OCI_CONFIG" "$cfg")" "$(desc_json "$MT_OCI_LAYER" "$WORK/layer")" >"$WORK/m.json"
MD=$(digest_of "$WORK/m.json")
for t in v1 v2; do
    code=$(curl -s "${A[@]}" -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $MT_OCI_MANIFEST" \
        "https://localhost:$PORT/v2/acr/app/manifests/$t" --data-binary @"$WORK/m.json")
    check "push acr/app:$t" test "$code" = 201
    sleep 0.01
done

azr acr repository list "${L[@]}"
az_json "az acr repository list" '. == ["acr/app"]'
azr acr repository show-tags "${L[@]}" --repository acr/app
az_json "az acr repository show-tags" '. == ["v1","v2"]'
azr acr repository show-tags "${L[@]}" --repository acr/app --detail --orderby time_desc --top 1
az_json "show-tags --detail --orderby time_desc --top 1: the newest tag with its digest and attributes" \
    ".[0].name == \"v2\" and .[0].digest == \"$MD\" and .[0].changeableAttributes.writeEnabled and length == 1"
azr acr repository show "${L[@]}" --repository acr/app
az_json "az acr repository show" '.imageName == "acr/app" and .manifestCount == 1 and .tagCount == 2'
azr acr repository show "${L[@]}" --image acr/app:v1
az_json "az acr repository show --image" ".name == \"v1\" and .digest == \"$MD\""
azr acr repository show-manifests "${L[@]}" --repository acr/app
az_json "az acr repository show-manifests" ".[0].digest == \"$MD\" and .[0].tags == [\"v1\",\"v2\"]"
azr acr manifest list-metadata --registry localhost -u owner -p "$PW" --name acr/app
az_json "az acr manifest list-metadata: size, and the platform from the config" \
    ".[0].digest == \"$MD\" and .[0].imageSize > 30000 and .[0].architecture == \"amd64\" and .[0].os == \"linux\""
azr acr repository update "${L[@]}" --image acr/app:v1 --delete-enabled false --write-enabled false
az_json "az acr repository update locks the tag" \
    '.changeableAttributes.deleteEnabled == false and .changeableAttributes.writeEnabled == false'
azr acr repository untag "${L[@]}" --image acr/app:v1
check "az acr repository untag of the locked tag fails" test "$AZ_RC" != 0
expect_match "with berth's reason" "tag v1 of 'acr/app' is locked: its deleteEnabled is false" "$AZ_ERR"
azr acr repository update "${L[@]}" --image acr/app:v1 --delete-enabled true --write-enabled true
az_json "az acr repository update unlocks it" '.changeableAttributes.deleteEnabled and .changeableAttributes.writeEnabled'
azr acr repository update "${L[@]}" --image acr/app:v2 --list-enabled false
az_json "az acr repository update --list-enabled false" '.changeableAttributes.listEnabled == false'
azr acr repository show-tags "${L[@]}" --repository acr/app
az_json "an unlisted tag is left out of show-tags" '. == ["v1"]'
azr acr repository update "${L[@]}" --repository acr/app --read-enabled false
az_json "az acr repository update --read-enabled false on the repository" '.changeableAttributes.readEnabled == false'
code=$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" -H "Accept: $MT_OCI_MANIFEST" \
    "https://localhost:$PORT/v2/acr/app/manifests/v1")
check "a read-locked repository does not pull" test "$code" = 403
azr acr repository update "${L[@]}" --repository acr/app --read-enabled true
azr acr repository untag "${L[@]}" --image acr/app:v2
check "az acr repository untag" test "$AZ_RC" = 0
azr acr repository show-tags "${L[@]}" --repository acr/app
az_json "the tag is gone" '. == ["v1"]'
azr acr repository delete "${L[@]}" --image acr/app:v1 --yes
check "az acr repository delete --image" test "$AZ_RC" = 0
azr acr repository show "${L[@]}" --repository acr/app
az_json "the manifest went with its tag" '.manifestCount == 0 and .tagCount == 0'
azr acr repository delete "${L[@]}" --repository acr/app --yes
check "az acr repository delete --repository" test "$AZ_RC" = 0
azr acr repository list "${L[@]}"
az_json "no repository is left" '. == []'
azr acr repository list -n localhost -u owner -p wrong-password
check "a wrong password fails" test "$AZ_RC" != 0
finish
