// npm sns-validator 0.3.5 on the SNS vectors, certificate fetch served from memory.
// Usage: node js_peer.js VECTOR_DIR ITERATIONS NAME...   Prints "name µs/msg" lines.
'use strict';
const fs = require('fs');
const path = require('path');
const https = require('https');
const { EventEmitter } = require('events');

const [dir, iterations, ...names] = process.argv.slice(2);
const certificates = {};
for (const name of names) {
  const body = JSON.parse(fs.readFileSync(path.join(dir, name + '.json'), 'utf8'));
  const url = body.SigningCertURL || body.SigningCertUrl;
  certificates[url] = fs.readFileSync(path.join(dir, name + '.pem'), 'utf8');
}

// The validator fetches with https.get, then keeps the PEM in its own cache: serve it once.
https.get = (url, onResponse) => {
  const response = new EventEmitter();
  response.statusCode = certificates[url] ? 200 : 404;
  process.nextTick(() => {
    onResponse(response);
    response.emit('data', Buffer.from(certificates[url] || ''));
    response.emit('end');
  });
  return new EventEmitter();
};

const MessageValidator = require('sns-validator');
const validator = new MessageValidator();

function validate(body) {
  return new Promise((resolve, reject) =>
    validator.validate(body, (error) => (error ? reject(error) : resolve())));
}

(async () => {
  for (const name of names) {
    const body = fs.readFileSync(path.join(dir, name + '.json'), 'utf8');
    for (let i = 0; i < 200; i++) await validate(body);
    const n = Number(iterations);
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await validate(body);
    const elapsed = Number(process.hrtime.bigint() - start);
    console.log(`${name} ${(elapsed / n / 1000).toFixed(2)}`);
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
