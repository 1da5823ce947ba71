/** The `.repo` file for `dnf config-manager --add-repo`: every check on, the key by URL. */
export function renderRepoFile(baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  return [
    '[certagent]',
    'name=certagent',
    `baseurl=${base}/linux/rpm/`,
    'enabled=1',
    'gpgcheck=1',
    'repo_gpgcheck=1',
    `gpgkey=${base}/linux/apt-sign.gpg`,
    '',
  ].join('\n');
}
