// Sign in with an API token; the token is kept for this browser tab only.

import { h, replace, errorBox, busy } from '../dom.js';

/** Page title. */
export const title = 'Sign in';

/** Renders the sign-in form. */
export function render(root, ctx) {
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  const message = h('div', { class: 'form-message' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'signin card',
      onsubmit: async (event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        replace(message);
        await busy(submit, async () => {
          try {
            await ctx.signIn(token);
          } catch (e) {
            replace(message, errorBox(e.status === 401 || e.status === 403 ? { ...e, message: 'This token is not accepted.' } : e, 'Sign-in failed'));
            input.select();
          }
        });
      },
    },
    h('h1', {}, 'Sign in to wanwu'),
    h('p', { class: 'muted' }, 'Paste an API token. The admin token of a new installation is in ', h('code', {}, 'wanwu-data/admin-token'), '. The token stays in this browser tab only.'),
    h('label', { class: 'field', for: 'token' }, h('span', { class: 'label' }, 'API token'), input),
    message,
    h('div', { class: 'form-actions' }, submit),
  );
  replace(root, h('div', { class: 'signin-wrap' }, form));
  input.focus();
}
