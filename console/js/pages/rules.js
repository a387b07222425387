// Rules and scenes: rules with their metrics, a JSON editor with validation and dry run
// (`POST /rules:test`), and scenes that run on demand.

import { seg } from '../api.js';
import { h, replace, card, empty, table, errorBox, busy, toast, loading, unavailable } from '../dom.js';
import { ago } from '../format.js';
import { parseJson } from '../jsonedit.js';
import { fetchAll, loadInto } from '../pagekit.js';
import { link } from '../router.js';

/** Page title. */
export const title = 'Rules & scenes';

/** A starting point for a new rule. */
export const RULE_TEMPLATE = {
  id: 'pm25-high',
  name: 'PM2.5 too high',
  trigger: { type: 'message', kinds: ['telemetry'], devices: { product: 'aq' } },
  condition: 'msg.values.pm25 > 75.0',
  for: '10m',
  clear: { condition: 'msg.values.pm25 < 50.0', actions: [{ type: 'clear_alarm', alarm: 'pm25_high' }] },
  actions: [{ type: 'raise_alarm', alarm: 'pm25_high', severity: 'major', details: { pm25: '{{msg.values.pm25}}' } }],
};

/** A sample telemetry message for a dry run of `rule` (`{device, ts, values}`, as `POST /rules:test` takes it). */
export function sampleMessage(rule, now = Date.now()) {
  return { device: rule?.trigger?.devices?.ids?.[0] || 'st-1', ts: now, values: { pm25: 80.0 } };
}

/** The metrics of a rule, whichever field the server keeps them in. */
export function ruleMetrics(rule) {
  const m = rule.metrics || rule.stats || {};
  const last = m.last_error ?? rule.last_error ?? null;
  return {
    evaluations: m.evaluations ?? 0,
    matches: m.matches ?? 0,
    firings: m.firings ?? 0,
    actions: m.actions ?? 0,
    errors: m.errors ?? 0,
    lastError: last && typeof last === 'object' ? `${last.message}${last.device ? ` (${last.device})` : ''}` : last,
  };
}

/** One sentence for a dry-run outcome. */
export function dryRunSummary(outcome) {
  if (!outcome || typeof outcome !== 'object') return 'done.';
  if (outcome.trigger_matched === false) return 'the trigger does not accept this message.';
  if (outcome.error) return `the condition failed: ${outcome.error}`;
  if (outcome.condition === false) return 'the condition does not hold.';
  if (outcome.fires) return `the rule would fire now and plan ${(outcome.actions || []).length} action(s).`;
  if (outcome.condition && outcome.hold_ms) return `the condition holds; the rule fires once it has held for ${Math.round(outcome.hold_ms / 1000)} s.`;
  return 'done.';
}

/** Renders the rules list with scenes, or the editor for `#/rules/{id}` (`?create=1` for new). */
export async function render(root, ctx) {
  if (ctx.params.id || ctx.query.create) return renderEditor(root, ctx);
  const rulesHost = h('div', {});
  const scenesHost = h('div', {});
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Rules & scenes'), ctx.canWrite && ctx.caps.has('post', '/rules') ? h('a', { class: 'button primary', href: link(['rules'], { create: '1' }) }, 'New rule') : null),
    card('Rules', rulesHost),
    card('Scenes', scenesHost),
  );
  const rulesMessage = h('div', { class: 'form-message', 'aria-live': 'polite' });
  const loadRules = () =>
    loadInto(ctx, rulesHost, {
      feature: 'Rules',
      path: '/rules',
      quiet: true,
      load: async () => {
        const { items } = await fetchAll(ctx, '/rules', { max: 2000 });
        if (!items.length) {
          replace(rulesHost, empty('No rules yet. A rule turns readings into actions: alarms, commands, webhooks.'));
          return;
        }
        replace(
          rulesHost,
          table(
            [
              { label: 'Rule', cell: (r) => h('a', { href: link(['rules', r.id]) }, r.name || r.id, h('span', { class: 'muted' }, ` ${r.id}`)) },
              { label: 'Trigger', cell: (r) => [r.trigger?.type ?? '—', r.trigger?.kinds ? h('span', { class: 'muted small' }, ` ${r.trigger.kinds.join(', ')}`) : null] },
              { label: 'Enabled', cell: (r) => [h('span', { dataset: { ruleEnabled: String(r.enabled !== false) } }, r.enabled === false ? 'no' : 'yes'), ' ', enableToggle(ctx, r, rulesMessage, loadRules)] },
              { label: 'Evaluations', cell: (r) => String(ruleMetrics(r).evaluations), class: 'num' },
              { label: 'Matches', cell: (r) => String(ruleMetrics(r).matches), class: 'num' },
              { label: 'Fired', cell: (r) => String(ruleMetrics(r).firings), class: 'num' },
              { label: 'Actions', cell: (r) => String(ruleMetrics(r).actions), class: 'num' },
              { label: 'Errors', cell: (r) => h('span', { class: ruleMetrics(r).errors ? 'bad' : '' }, String(ruleMetrics(r).errors)), class: 'num' },
              { label: 'Last error', cell: (r) => ruleMetrics(r).lastError || '—' },
            ],
            items,
            { caption: 'Rules' },
          ),
          rulesMessage,
        );
      },
    });
  replace(rulesHost, loading());
  await Promise.all([
    loadRules(),
    loadInto(ctx, scenesHost, {
      feature: 'Scenes',
      path: '/scenes',
      load: async () => {
        const { items } = await fetchAll(ctx, '/scenes', { max: 2000 });
        if (!items.length) {
          replace(scenesHost, empty('No scenes yet. A scene is a named list of actions run with one tap.'));
          return;
        }
        const result = h('div', { class: 'form-message', 'aria-live': 'polite' });
        replace(
          scenesHost,
          table(
            [
              { label: 'Scene', cell: (s) => [s.name || s.id, h('span', { class: 'muted' }, ` ${s.id}`)] },
              { label: 'Actions', cell: (s) => String((s.actions || []).length), class: 'num' },
              { label: 'Last run', cell: (s) => ago(s.last_run_at ?? s.last_run) },
              {
                label: '',
                cell: (s) =>
                  ctx.canWrite
                    ? h(
                        'button',
                        {
                          type: 'button',
                          class: 'small',
                          'aria-label': `Run scene ${s.name || s.id}`,
                          onclick: async (e) => {
                            await busy(e.currentTarget, async () => {
                              try {
                                const answer = await ctx.api.post(`/scenes/${seg(s.id)}/run`, {});
                                toast(`Scene ${s.name || s.id} ran`, 'ok');
                                replace(result, h('div', { class: 'notice ok' }, h('p', {}, `Scene ${s.name || s.id} ran.`), answer ? h('pre', { class: 'mono' }, JSON.stringify(answer, null, 2)) : null));
                              } catch (err) {
                                if (err?.name !== 'AbortError') replace(result, errorBox(err, 'The scene did not run'));
                              }
                            });
                          },
                        },
                        'Run',
                      )
                    : '',
              },
            ],
            items,
            { caption: 'Scenes' },
          ),
          result,
        );
      },
    }),
  ]);
  return undefined;
}

/** For writers: a button that disables an enabled rule or enables a disabled one. */
function enableToggle(ctx, rule, message, reload) {
  const verb = rule.enabled === false ? 'enable' : 'disable';
  if (!ctx.canWrite || !ctx.caps.has('post', `/rules/${seg(rule.id)}/${verb}`)) return null;
  return h(
    'button',
    {
      type: 'button',
      class: 'small secondary',
      'aria-label': `${verb === 'enable' ? 'Enable' : 'Disable'} rule ${rule.name || rule.id}`,
      onclick: async (e) => {
        replace(message);
        await busy(e.currentTarget, async () => {
          try {
            await ctx.api.post(`/rules/${seg(rule.id)}/${verb}`, {});
            toast(`Rule ${rule.name || rule.id} ${verb}d`, 'ok');
            await reload();
          } catch (err) {
            if (err?.name !== 'AbortError') replace(message, errorBox(err, `The rule was not ${verb}d`));
          }
        });
      },
    },
    verb === 'enable' ? 'Enable' : 'Disable',
  );
}

async function renderEditor(root, ctx) {
  const creating = !ctx.params.id;
  let rule = RULE_TEMPLATE;
  if (!creating) {
    replace(root, loading('Loading rule'));
    try {
      rule = await ctx.api.get(`/rules/${seg(ctx.params.id)}`, { signal: ctx.signal });
    } catch (e) {
      if (e?.name === 'AbortError') throw e;
      replace(root, h('h1', {}, ctx.params.id), errorBox(e, e.status === 404 ? 'No such rule' : 'The rule could not be loaded'), h('p', {}, h('a', { href: '#/rules' }, 'Back to rules')));
      return;
    }
  }
  const editable = { ...rule };
  for (const k of ['metrics', 'outcomes', 'tenant', 'created_at', 'updated_at']) delete editable[k];
  const editor = h('textarea', { class: 'mono json-editor', rows: 20, spellcheck: 'false', 'aria-label': 'Rule as JSON', readonly: !ctx.canWrite }, JSON.stringify(editable, null, 2));
  const status = h('p', { class: 'json-status', 'aria-live': 'polite' });
  const message = h('div', { class: 'form-message' });
  const sample = h('textarea', { class: 'mono', rows: 8, spellcheck: 'false', 'aria-label': 'Sample message for the dry run' }, JSON.stringify(sampleMessage(rule), null, 2));
  const dryResult = h('div', { class: 'form-message', 'aria-live': 'polite' });
  const check = () => {
    const parsed = parseJson(editor.value);
    if (parsed.error) {
      status.className = 'json-status bad';
      status.textContent = `Not valid JSON${parsed.error.line ? ` at line ${parsed.error.line}, column ${parsed.error.column}` : ''}: ${parsed.error.message}`;
      editor.setAttribute('aria-invalid', 'true');
    } else {
      status.className = 'json-status ok';
      status.textContent = 'Valid JSON.';
      editor.removeAttribute('aria-invalid');
    }
    return parsed;
  };
  editor.addEventListener('input', check);
  const save = h('button', { type: 'submit', class: 'primary' }, creating ? 'Create rule' : 'Save rule');
  const form = h(
    'form',
    {
      class: 'form',
      'aria-label': 'Rule editor',
      onsubmit: async (e) => {
        e.preventDefault();
        const parsed = check();
        if (parsed.error || !ctx.canWrite) return;
        replace(message);
        await busy(save, async () => {
          try {
            const saved = creating
              ? await ctx.api.post('/rules', parsed.value)
              : await ctx.api.request(ctx.caps.updateMethod(`/rules/${seg(rule.id)}`) || 'PUT', `/rules/${seg(rule.id)}`, { body: parsed.value });
            toast('Rule saved', 'ok');
            if (creating) location.hash = link(['rules', saved?.id || parsed.value.id]);
            else replace(message, h('p', { class: 'notice ok' }, 'Saved.'));
          } catch (err) {
            if (err?.name !== 'AbortError') replace(message, errorBox(err, 'The rule was not saved'));
          }
        });
      },
    },
    editor,
    status,
    ctx.canWrite ? h('div', { class: 'form-actions' }, save) : null,
    message,
  );
  const dryRun = h(
    'button',
    {
      type: 'button',
      onclick: async (e) => {
        const parsedRule = check();
        const parsedMsg = parseJson(sample.value);
        if (parsedRule.error) return;
        if (parsedMsg.error) {
          replace(dryResult, errorBox({ message: parsedMsg.error.message }, 'The sample message is not valid JSON'));
          return;
        }
        await busy(e.currentTarget, async () => {
          try {
            const answer = await ctx.api.post('/rules:test', { rule: parsedRule.value, message: parsedMsg.value });
            replace(dryResult, h('div', { class: `notice${answer?.fires ? ' ok' : ''}`, dataset: { dryRun: answer?.fires ? 'fires' : 'quiet' } }, h('p', {}, h('strong', {}, 'Dry run: '), dryRunSummary(answer)), h('pre', { class: 'mono' }, JSON.stringify(answer, null, 2))));
          } catch (err) {
            if (err?.name !== 'AbortError') replace(dryResult, errorBox(err, 'The dry run failed'));
          }
        });
      },
    },
    'Dry run',
  );
  const dryHost = h('div', {});
  replace(
    root,
    h('div', { class: 'page-head' }, h('p', { class: 'crumbs' }, h('a', { href: '#/rules' }, 'Rules'), ' / '), h('h1', {}, creating ? 'New rule' : rule.name || rule.id)),
    h('div', { class: 'grid editor-grid' }, card('Rule', form), card('Dry run', dryHost)),
  );
  if (ctx.caps.has('post', '/rules:test')) replace(dryHost, h('p', { class: 'muted small' }, 'Evaluates the rule in the editor against this message and shows what would happen; nothing is changed.'), sample, h('div', { class: 'form-actions' }, dryRun), dryResult);
  else replace(dryHost, unavailable('The dry run'));
  check();
  return undefined;
}
