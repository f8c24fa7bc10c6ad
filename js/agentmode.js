// @ts-check
/**
 * Agent mode, per conversation, in the composer: off, a message is text only; on, it is
 * sent with `tools: "all"` (docs/protocol.md#send) and the model may call the tools,
 * each under its approval policy, which the Tools menu lists (`GET tools?conversation=`).
 * The choice is kept per conversation in this browser's localStorage (it is the user's
 * way of working, not part of the notebook); a conversation never switched starts as
 * the Settings Editor's `agentMode` says (settings.js).
 */
import { button, h } from './dom.js';

export const STORAGE_PREFIX = 'jupyter-resumechat:agent:';

/** @typedef {{name: string, approval: string, runs_on: string, effect: string, description?: string}} ToolInfo */

/** @param {any} storage @param {string} cid @param {boolean} fallback */
export function storedAgentMode(storage, cid, fallback) {
  try {
    const value = cid && storage ? storage.getItem(STORAGE_PREFIX + cid) : null;
    return value === 'on' ? true : value === 'off' ? false : fallback;
  } catch (_) { return fallback; } // storage refused (a sandboxed page): the default
}

/** @param {any} storage @param {string} cid @param {boolean} on */
export function storeAgentMode(storage, cid, on) {
  try { if (cid && storage) storage.setItem(STORAGE_PREFIX + cid, on ? 'on' : 'off'); } catch (_) { /* not kept: still applies now */ }
}

const POLICY_WORDS = /** @type {Record<string, string>} */ ({
  auto: 'runs without asking', ask: 'asks you first', never: 'never offered',
});

/** A tool's line in the menu. @param {ToolInfo} tool */
export function toolLine(tool) {
  const where = tool.runs_on === 'page' ? 'in this notebook' : 'on the server';
  return `${tool.name} (${tool.effect}, ${where}): ${POLICY_WORDS[tool.approval] || tool.approval}`;
}

/** The toggle and the Tools menu, drawn into the composer. */
export class AgentControls {
  /**
   * @param {{onAgent?: (on: boolean) => void, onTools?: () => Promise<ToolInfo[]>}} handlers
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.root = h('div', 'rc-agent');
    this.toggle = /** @type {HTMLButtonElement} */ (button('Agent mode', 'rc-agent-toggle'));
    this.toggle.setAttribute('aria-pressed', 'false');
    this.toggle.setAttribute('data-lm-suppress-shortcuts', 'true');
    this.toggle.title = 'On: the model may read and change this notebook and run its cells, each as its tool\'s policy says';
    this.menu = /** @type {HTMLDetailsElement} */ (h('details', 'rc-agent-tools'));
    const summary = h('summary', '', 'Tools');
    summary.setAttribute('data-lm-suppress-shortcuts', 'true');
    this.list = h('ul', 'rc-agent-tool-list');
    this.list.setAttribute('aria-label', 'Tools and their approval');
    this.menu.append(summary, this.list);
    this.root.append(this.toggle, this.menu);
    this.root.hidden = !handlers.onAgent;
    this.toggle.addEventListener('click', () => {
      const on = this.toggle.getAttribute('aria-pressed') !== 'true';
      this.set(on);
      handlers.onAgent?.(on);
    });
    this.menu.addEventListener('toggle', () => { if (this.menu.open) this.fill(); });
  }

  /** @param {boolean} on */
  set(on) {
    this.toggle.setAttribute('aria-pressed', String(on));
    this.toggle.classList.toggle('rc-agent-on', on);
    this.toggle.textContent = on ? 'Agent mode: on' : 'Agent mode: off';
  }

  get on() { return this.toggle.getAttribute('aria-pressed') === 'true'; }

  async fill() {
    if (!this.handlers.onTools) return;
    this.list.replaceChildren(h('li', 'rc-agent-tool', 'Loading…'));
    try {
      const tools = await this.handlers.onTools();
      this.list.replaceChildren(...(tools.length ? tools.map((t) => h('li', `rc-agent-tool rc-agent-${t.approval}`, toolLine(t)))
        : [h('li', 'rc-agent-tool', 'No tools are offered.')]));
    } catch (error) {
      this.list.replaceChildren(h('li', 'rc-agent-tool', `Could not list the tools: ${/** @type {any} */ (error)?.message || error}`));
    }
  }
}
