// @ts-check
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bounded, imageLine, outputText, outputsText, pngSize, readAnswer, runAnswer, variablesAnswer } from './pageout.js';

// a 1×1 PNG, then the same header claiming 640×480
const PNG_1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const PNG_640 = Buffer.from(Buffer.from(PNG_1, 'base64').map((b, i) => [0, 0, 0x02, 0x80, 0, 0, 0x01, 0xe0][i - 16] ?? b)).toString('base64');

test('a stream is its text, a result its text/plain, without ANSI colours', () => {
  assert.equal(outputText({ output_type: 'stream', name: 'stdout', text: ['4', '2\n'] }), '42\n');
  assert.equal(outputText({ output_type: 'execute_result', data: { 'text/plain': '\x1b[31m42\x1b[0m' } }), '42');
  assert.equal(outputText({ output_type: 'display_data', data: { 'text/html': '<b>x</b>' } }), '[text/html]');
});

test('an image is a line with its type and size: from the metadata, else the PNG header', () => {
  assert.equal(pngSize(PNG_640)?.width, 640);
  assert.deepEqual(pngSize(PNG_1), { width: 1, height: 1 });
  assert.equal(pngSize('not base64 at all'), null);
  const figure = { output_type: 'display_data', data: { 'image/png': PNG_640, 'text/plain': '<Figure size 640x480 with 1 Axes>' } };
  assert.equal(outputText(figure), '[image/png 640×480]');
  assert.equal(imageLine('image/jpeg', '...', { 'image/jpeg': { width: 30, height: 20 } }), '[image/jpeg 30×20]');
  assert.equal(imageLine('image/jpeg', '...', {}), '[image/jpeg]');
});

test('outputs join in order and are cut, saying how much was left out', () => {
  const outputs = [{ output_type: 'stream', text: 'a' }, { output_type: 'execute_result', data: { 'text/plain': 'b' } }];
  assert.equal(outputsText(outputs), 'a\nb');
  assert.equal(bounded('x'.repeat(12), 10), `${'x'.repeat(10)}\n… (2 more characters left out)`);
  assert.match(outputsText([{ output_type: 'stream', text: 'y'.repeat(9000) }]), /… \(1000 more characters left out\)$/);
});

test('a run answers its outputs, "(no output)", or an error with its traceback', () => {
  assert.deepEqual(runAnswer([{ output_type: 'stream', text: '42\n' }]), { content: '42' });
  assert.deepEqual(runAnswer([]), { content: '(no output)' });
  const failed = runAnswer([{ output_type: 'stream', text: 'before\n' },
    { output_type: 'error', ename: 'ZeroDivisionError', evalue: 'division by zero', traceback: ['\x1b[0;31mTraceback\x1b[0m', '1/0'] }]);
  assert.ok('error' in failed);
  assert.equal(failed.error, 'ZeroDivisionError: division by zero\nTraceback\n1/0\n\nOutput before the error:\nbefore');
});

test('a read lists each cell by id, with its outputs as text; ids not found are named', () => {
  const cells = [
    { id: 'a', type: 'markdown', source: '# T' },
    { id: 'b', type: 'code', source: 'print(1)', execution_count: 3, outputs: [{ output_type: 'stream', text: '1\n' }] },
  ];
  assert.deepEqual(JSON.parse(readAnswer(cells)).cells, [
    { id: 'a', type: 'markdown', source: '# T' },
    { id: 'b', type: 'code', source: 'print(1)', execution_count: 3, outputs: '1' },
  ]);
  assert.deepEqual(JSON.parse(readAnswer(cells, ['b', 'zz'])), { cells: [JSON.parse(readAnswer(cells)).cells[1]], missing: ['zz'] });
});

test('the variables line reads as one line a variable', () => {
  assert.equal(variablesAnswer('[["df", "DataFrame", "(3, 2)", "   a  b"], ["x", "int", "", "3"]]\n'),
    'df: DataFrame (3, 2) =    a  b\nx: int = 3');
  assert.equal(variablesAnswer('[]'), '(no variables)');
});
