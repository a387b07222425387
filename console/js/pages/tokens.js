// API tokens of the tenant (admins): list, create with a role (the secret shown once), revoke.

import { seg } from '../api.js';
import { h, replace, card, empty, table, errorBox, busy, toast, field } from '../dom.js';
import { dateTime } from '../format.js';
import { fetchAll, loadInto } from '../pagekit.js';

/** Page title. */
export const title = 'API tokens';

const ROLES = ['viewer', 'operator', 'admin'];

/** Renders the token list and the create form. */
export async function render(root, ctx) {
  const host = h('div', {});
  const draw = () =>
    loadInto(ctx, host, {
      feature: 'API tokens',
      path: '/tokens',
      quiet: true,
      load: async () => {
        const { items } = await fetchAll(ctx, '/tokens', { max: 2000 });
        if (!items.length) {
          replace(host, empty('No tokens.'));
          return;
        }
        const message = h('div', { class: 'form-message' });
        replace(
          host,
          message,
          table(
            [
              { label: 'Name', cell: (t) => [t.name, t.platform_admin ? h('span', { class: 'tag' }, 'platform admin') : null] },
              { label: 'Role', cell: (t) => h('span', { class: `badge role-${t.role}` }, t.role) },
              { label: 'Tenant', cell: (t) => t.tenant },
              { label: 'Created', cell: (t) => dateTime(t.created_at) },
              { label: 'Id', cell: (t) => h('code', {}, t.id) },
              { label: '', cell: (t) => (ctx.canWrite && !t.platform_admin ? revokeButton(ctx, t, message, draw) : '') },
            ],
            items,
            { caption: 'API tokens', rowClass: (t) => `token-row token-${t.name}` },
          ),
        );
      },
    });
  replace(root, h('div', { class: 'page-head' }, h('h1', {}, 'API tokens')), ctx.canWrite ? createCard(ctx, draw) : null, card('Tokens', host));
  await draw();
}

function revokeButton(ctx, token, message, redraw) {
  const ask = h('button', { type: 'button', class: 'small secondary', 'aria-label': `Revoke token ${token.name}` }, 'Revoke');
  const confirm = h('button', { type: 'button', class: 'small danger', hidden: true, 'aria-label': `Confirm revoking token ${token.name}` }, 'Revoke now');
  ask.addEventListener('click', () => {
    ask.hidden = true;
    confirm.hidden = false;
    confirm.focus();
  });
  confirm.addEventListener('click', async () => {
    await busy(confirm, async () => {
      try {
        await ctx.api.del(`/tokens/${seg(token.id)}`);
        toast(`Token ${token.name} revoked`, 'ok');
        await redraw();
      } catch (e) {
        if (e?.name !== 'AbortError') replace(message, errorBox(e, 'The token was not revoked'));
      }
    });
  });
  return h('div', { class: 'btn-row' }, ask, confirm);
}

function createCard(ctx, onCreated) {
  const name = h('input', { name: 'name', required: true, autocomplete: 'off' });
  const role = h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r }, r)));
  const result = h('div', { class: 'form-message' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create token');
  const form = h(
    'form',
    {
      class: 'form',
      'aria-label': 'Create an API token',
      onsubmit: async (e) => {
        e.preventDefault();
        replace(result);
        await busy(submit, async () => {
          try {
            const created = await ctx.api.post('/tokens', { name: name.value.trim(), role: role.value });
            replace(
              result,
              h(
                'div',
                { class: 'notice ok', dataset: { apiToken: 'shown' } },
                h('p', {}, `Token ${created.name} (${created.role}) created. Its secret is shown only now:`),
                h('pre', { class: 'mono secret', tabindex: '0' }, created.token),
              ),
            );
            name.value = '';
            await onCreated();
          } catch (err) {
            if (err?.name !== 'AbortError') replace(result, errorBox(err, 'The token was not created'));
          }
        });
      },
    },
    h('div', { class: 'row' }, field('Name', name), field('Role', role)),
    h('div', { class: 'form-actions' }, submit),
    result,
  );
  return card('Create an API token', form);
}
