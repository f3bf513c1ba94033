# Writers of the small Go modules the harness binaries are built from; sourced by
# scripts/build-harness.sh. Each module requires one upstream release and carries over the
# replace lines that release's own go.mod relies on, derived from that go.mod so that a
# version bump in tests/harness/versions.env needs no edit here.

# Print the path of an upstream module's go.mod in the module cache (downloading it if needed).
upstream_go_mod() {
  go mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p'
}

# Seed our go.sum with the checksums the upstream release recorded: a few forks it
# replaces in are unknown to the public checksum database, and the release's own go.sum is
# the authority on the exact code it was built from.
seed_go_sum_from() {
  local dir="$1" module="$2" version="$3" source_dir
  source_dir="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  if [[ -f "$source_dir/go.sum" ]]; then
    touch "$dir/go.sum"
    sort -u "$source_dir/go.sum" "$dir/go.sum" >"$dir/go.sum.new"
    mv "$dir/go.sum.new" "$dir/go.sum"
  fi
}

# Print the "replace" lines of a go.mod as "old => new version", one a line, whether written
# in a replace block or one at a time.
replace_lines_of() {
  awk '
    /^replace[[:space:]]*\(/ { in_block = 1; next }
    in_block && /^\)/ { in_block = 0; next }
    in_block { sub(/\/\/.*/, ""); if ($0 ~ /=>/) print; next }
    /^replace[[:space:]]/ { sub(/^replace[[:space:]]+/, ""); sub(/\/\/.*/, ""); print }
  ' "$1" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | grep -v '^$'
}

write_go_mod_header() {
  local dir="$1" name="$2" go_version="$3"
  printf 'module talos-platform-harness/%s\n\ngo %s\n\n' "$name" "$go_version" >"$dir/go.mod"
}

go_directive_of() {
  sed -n 's/^go[[:space:]]\+\([0-9.]*\).*/\1/p' "$1" | head -n 1
}

# k8s.io/kubernetes maps each staging module (k8s.io/api, ...) to its own tree; outside that
# tree each one is the published v0.<minor>.<patch> of the same release.
write_kubernetes_module() {
  local dir="$1" version="$2" upstream staging_version="v0.${2#v1.}"
  upstream="$(upstream_go_mod k8s.io/kubernetes "$version")"
  write_go_mod_header "$dir" kubernetes "$(go_directive_of "$upstream")"
  {
    printf 'require k8s.io/kubernetes %s\n\nreplace (\n' "$version"
    replace_lines_of "$upstream" | awk -v v="$staging_version" '$3 ~ /^\.\/staging\// { printf "\t%s => %s %s\n", $1, $1, v }'
    printf ')\n'
  } >>"$dir/go.mod"
  grep -q '=> k8s.io/api ' "$dir/go.mod" || { echo "no staging replace lines found in $upstream" >&2; return 1; }
  seed_go_sum_from "$dir" k8s.io/kubernetes "$version"
}

write_kwok_module() {
  local dir="$1" version="$2" upstream
  upstream="$(upstream_go_mod sigs.k8s.io/kwok "$version")"
  write_go_mod_header "$dir" kwok "$(go_directive_of "$upstream")"
  printf 'require sigs.k8s.io/kwok %s\n' "$version" >>"$dir/go.mod"
  # Repeat any non-local replace lines the release relies on.
  local replaces
  replaces="$(replace_lines_of "$upstream" | awk '$3 !~ /^\.\.?\//')" || true
  if [[ -n "$replaces" ]]; then
    printf '\nreplace (\n%s\n)\n' "$(sed 's/^/\t/' <<<"$replaces")" >>"$dir/go.mod"
  fi
  seed_go_sum_from "$dir" sigs.k8s.io/kwok "$version"
}

# Talos keeps pkg/machinery as a nested module replaced by its local folder; outside the
# repository that is the machinery module published with the same tag.
# A "module@version" override for this Talos version (TALOSCTL_DEPENDENCY_OVERRIDES, entries
# "talos-version:module@version") replaces that dependency, and any replace line of it, with the
# given release: for a dependency version the module proxy does not serve.
write_talos_module() {
  local dir="$1" version="$2" upstream overrides="" entry
  upstream="$(upstream_go_mod github.com/siderolabs/talos "$version")"
  for entry in ${TALOSCTL_DEPENDENCY_OVERRIDES:-}; do
    [[ "${entry%%:*}" == "$version" ]] && overrides+="${entry#*:} "
  done
  write_go_mod_header "$dir" talos "$(go_directive_of "$upstream")"
  {
    printf 'require (\n\tgithub.com/siderolabs/talos %s\n\tgithub.com/siderolabs/talos/pkg/machinery %s\n)\n\n' "$version" "$version"
    printf 'replace (\n'
    replace_lines_of "$upstream" | awk -v overrides="$overrides" '
      BEGIN { split(overrides, list, " "); for (i in list) { split(list[i], part, "@"); skip[part[1]] = 1 } }
      $3 !~ /^\.\.?\// && !($1 in skip) { printf "\t%s\n", $0 }'
    for entry in $overrides; do
      printf '\t%s => %s %s\n' "${entry%@*}" "${entry%@*}" "${entry#*@}"
    done
    printf ')\n'
  } >>"$dir/go.mod"
  seed_go_sum_from "$dir" github.com/siderolabs/talos "$version"
}

# ArgoCD keeps gitops-engine as a nested module replaced by its local folder; outside the
# repository that is the gitops-engine module published with the same tag.
write_argocd_module() {
  local dir="$1" version="$2" upstream
  upstream="$(upstream_go_mod github.com/argoproj/argo-cd/v3 "$version")"
  write_go_mod_header "$dir" argocd "$(go_directive_of "$upstream")"
  {
    printf 'require (\n\tgithub.com/argoproj/argo-cd/v3 %s\n\tgithub.com/argoproj/argo-cd/gitops-engine/v3 %s\n)\n\n' "$version" "$version"
    printf 'replace (\n'
    replace_lines_of "$upstream" | awk '$3 !~ /^\.\.?\// { printf "\t%s\n", $0 }'
    printf ')\n'
  } >>"$dir/go.mod"
  seed_go_sum_from "$dir" github.com/argoproj/argo-cd/v3 "$version"
}

# Alertmanager embeds its web UI from ui/app/dist, which its release builds with npm and the
# Go module does not carry. The module is built from a copy of the release's source with that
# folder holding only a note: the API, the alerting core and every dependency are the release's;
# the browser UI pages are absent (the harness reads the v2 API only).
write_alertmanager_module() {
  local dir="$1" version="$2" upstream source_dir
  upstream="$(upstream_go_mod github.com/prometheus/alertmanager "$version")"
  source_dir="$(go mod download -json "github.com/prometheus/alertmanager@$version" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  rm -rf "$dir/alertmanager"
  cp -R "$source_dir" "$dir/alertmanager"
  chmod -R u+w "$dir/alertmanager"
  local ui
  for ui in elm mantine; do
    mkdir -p "$dir/alertmanager/ui/app/dist/$ui"
    printf 'The web UI is not part of this harness build; see scripts/harness/go-modules.sh.\n' \
      >"$dir/alertmanager/ui/app/dist/$ui/README.txt"
  done
  write_go_mod_header "$dir" alertmanager "$(go_directive_of "$upstream")"
  printf 'require github.com/prometheus/alertmanager %s\n\nreplace github.com/prometheus/alertmanager => ./alertmanager\n' \
    "$version" >>"$dir/go.mod"
  seed_go_sum_from "$dir" github.com/prometheus/alertmanager "$version"
}

# Cilium's own CRDs (the cilium-operator registers them when it starts; the Helm chart does
# not carry them), copied from the cilium module of that release.
copy_cilium_crds() {
  local target="$1" version="$2" source_dir
  source_dir="$(go mod download -json "github.com/cilium/cilium@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  [[ -d "$source_dir/pkg/k8s/apis/cilium.io/client/crds" ]] || { echo "no CRDs in $source_dir" >&2; return 1; }
  rm -rf "$target.partial" && mkdir -p "$target.partial"
  cp "$source_dir"/pkg/k8s/apis/cilium.io/client/crds/*/*.yaml "$target.partial/"
  chmod -R u+w "$target.partial"
  rm -rf "$target" && mv "$target.partial" "$target"
}
