// The page of fsdd-app: records the microphone (encoded as a 16-bit WAV here, so the server
// needs no decoder for browser formats) or takes an audio file (WAV, FLAC, OGG, MP3 or
// AIFF: what the server's libsndfile reads), sends its bytes to this
// server only, and shows the answer: the digit string, every word with its probabilities,
// the waveform with the words marked, and playback. "Teach it your voice" collects one take
// of every digit, asks the server for a personal model, and sends later takes to it.
"use strict";

const RECOGNIZE_URL = "/api/recognize";
const INFO_URL = "/api/info";
const ENROLL_URL = "/api/enroll";
const VOICE_HEADER = "X-Voice";
const DIGITS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
// The files the server reads, for the file pickers: /api/info's audio_accept.
let audioAccept = "";
const METER_FLOOR_DB = -60;

const $ = (id) => document.getElementById(id);
const ui = {
  record: $("record-button"),
  recordLabel: $("record-label"),
  recordTime: $("record-time"),
  level: $("level"),
  maxTake: $("max-take"),
  file: $("file-input"),
  drop: $("drop-zone"),
  message: $("message"),
  result: $("result"),
  digits: $("digits"),
  takeName: $("take-name"),
  takeLength: $("take-length"),
  latency: $("latency"),
  wave: $("waveform"),
  waveNote: $("wave-note"),
  playTake: $("play-take"),
  words: $("words"),
  model: $("model-name"),
  origin: $("origin"),
  enroll: $("enroll"),
  slots: $("enroll-slots"),
  enrollButton: $("enroll-button"),
  enrollStatus: $("enroll-status"),
  voiceToggle: $("voice-toggle"),
  voiceToggleLabel: $("voice-toggle-label"),
};

let maxTakeS = 30;
let recorder = null; // the recording under way, if any
let playbackContext = null; // one AudioContext for decoding and playing takes
let shown = null; // {buffer, answer} of the take on screen
let playing = null; // the AudioBufferSourceNode playing, if any
let requestCounter = 0; // an older answer arriving late never replaces a newer one
let modelName = ""; // the app's model, as /api/info names it
let voice = null; // {token, model} of the personal model taught on this page, if any
const enrollTakes = DIGITS.map(() => null); // the take (a Blob) of every digit, once given

function setState(state) {
  document.body.dataset.state = state;
}

function showMessage(text, kind = "error") {
  ui.message.textContent = text;
  ui.message.className = kind === "error" ? "message" : "message info";
  ui.message.hidden = false;
}

function clearMessage() {
  ui.message.hidden = true;
  ui.message.textContent = "";
}

function audioContext() {
  if (!playbackContext) playbackContext = new AudioContext();
  return playbackContext;
}

// ---- WAV encoding ---------------------------------------------------------------------

function encodeWav(samples, sampleRate) {
  const bytesPerSample = 2;
  const buffer = new ArrayBuffer(44 + samples.length * bytesPerSample);
  const view = new DataView(buffer);
  const text = (offset, value) => {
    for (let i = 0; i < value.length; i++) view.setUint8(offset + i, value.charCodeAt(i));
  };
  text(0, "RIFF");
  view.setUint32(4, 36 + samples.length * bytesPerSample, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true); // PCM header size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * bytesPerSample, true);
  view.setUint16(32, bytesPerSample, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, samples.length * bytesPerSample, true);
  let offset = 44;
  for (let i = 0; i < samples.length; i++, offset += 2) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(offset, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Blob([buffer], { type: "audio/wav" });
}

function joinBlocks(blocks) {
  const total = blocks.reduce((sum, block) => sum + block.length, 0);
  const joined = new Float32Array(total);
  let offset = 0;
  for (const block of blocks) {
    joined.set(block, offset);
    offset += block.length;
  }
  return joined;
}

// ---- Recording ------------------------------------------------------------------------

// Where a recording goes: the main record button recognizes it; a digit's record button in
// "Teach it your voice" keeps it as that digit's take.
const mainTarget = {
  button: ui.record,
  label: ui.recordLabel,
  idleText: "Start recording",
  onTake: (blob) => recognize(blob, "microphone"),
};

async function startRecording(target = mainTarget) {
  if (!navigator.mediaDevices || !window.AudioWorkletNode) {
    showMessage(
      "This browser cannot record here: the microphone needs a page on localhost/127.0.0.1 " +
        "or HTTPS. Upload a WAV, FLAC, OGG, MP3 or AIFF file instead."
    );
    return;
  }
  clearMessage();
  stopPlayback();
  // The recorder is ready before the microphone opens: the first syllable is not lost.
  const context = new AudioContext();
  await context.audioWorklet.addModule("/static/recorder-worklet.js");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (error) {
    context.close();
    showMessage(`No microphone: ${error.message || error.name}. Upload a file instead.`);
    return;
  }
  const source = context.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(context, "recorder-processor");
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  const blocks = [];
  node.port.onmessage = (event) => blocks.push(event.data);
  source.connect(analyser);
  source.connect(node);
  node.connect(context.destination); // keeps the worklet running; it outputs silence
  recorder = { stream, context, node, analyser, blocks, target, started: performance.now(), frame: 0, peak: 0 };
  setState("recording");
  target.button.setAttribute("aria-pressed", "true");
  target.label.textContent = "Stop";
  drawMeter();
}

function drawMeter() {
  if (!recorder) return;
  const data = new Float32Array(recorder.analyser.fftSize);
  recorder.analyser.getFloatTimeDomainData(data);
  let sum = 0;
  for (const x of data) sum += x * x;
  const db = 10 * Math.log10(sum / data.length + 1e-12);
  const fraction = Math.max(0, Math.min(1, (db - METER_FLOOR_DB) / -METER_FLOOR_DB));
  ui.level.style.width = `${(fraction * 100).toFixed(1)}%`;
  recorder.peak = Math.max(recorder.peak, fraction);
  ui.level.dataset.peak = recorder.peak.toFixed(3); // the take's loudest moment, 0-1
  const seconds = (performance.now() - recorder.started) / 1000;
  ui.recordTime.textContent = `${seconds.toFixed(1)} s`;
  if (seconds >= maxTakeS) {
    stopRecording();
    return;
  }
  recorder.frame = requestAnimationFrame(drawMeter);
}

async function stopRecording() {
  const done = recorder;
  if (!done) return;
  recorder = null;
  cancelAnimationFrame(done.frame);
  done.stream.getTracks().forEach((track) => track.stop());
  done.node.port.onmessage = null;
  const rate = done.context.sampleRate;
  await done.context.close();
  ui.level.style.width = "0";
  done.target.button.setAttribute("aria-pressed", "false");
  done.target.label.textContent = done.target.idleText;
  setState("idle");
  const samples = joinBlocks(done.blocks);
  if (samples.length === 0) {
    showMessage("Nothing was recorded: the microphone sent no sound.");
    return;
  }
  await done.target.onTake(encodeWav(samples, rate));
}

// ---- Recognition ----------------------------------------------------------------------

async function recognize(blob, name) {
  const request = ++requestCounter;
  clearMessage();
  stopPlayback();
  setState("busy");
  showMessage(`Recognizing ${name}…`, "info");
  const started = performance.now();
  let response;
  let answer;
  try {
    const headers = { "Content-Type": blob.type || "application/octet-stream" };
    if (voice && ui.voiceToggle.checked) headers[VOICE_HEADER] = voice.token;
    response = await fetch(RECOGNIZE_URL, { method: "POST", headers, body: blob });
    answer = await response.json();
  } catch (error) {
    if (request !== requestCounter) return;
    setState("error");
    ui.result.hidden = true;
    showMessage(`The server did not answer (${error.message}). Is fsdd-app still running?`);
    return;
  }
  if (request !== requestCounter) return;
  const elapsed = performance.now() - started;
  if (!response.ok || answer.error) {
    setState("error");
    ui.result.hidden = true;
    showMessage(`${name}: ${answer.error || `the server answered ${response.status}`}`);
    if (response.status === 404 && voice) forgetVoice(); // the server no longer holds it
    return;
  }
  clearMessage();
  let buffer = null;
  try {
    buffer = await audioContext().decodeAudioData(await blob.arrayBuffer());
  } catch (error) {
    buffer = null; // the server read it; this browser cannot: no waveform, no playback
  }
  if (request !== requestCounter) return;
  shown = { buffer, answer };
  showAnswer(answer, name, elapsed, buffer);
  setState("result");
}

function percent(p) {
  return `${(100 * p).toFixed(p >= 0.995 || p < 0.1 ? 1 : 0)}%`;
}

function showAnswer(answer, name, elapsed, buffer) {
  ui.digits.textContent = answer.digits;
  ui.takeName.textContent = name;
  ui.takeLength.textContent = `${answer.duration_s.toFixed(2)} s`;
  ui.latency.textContent = `${Math.round(elapsed)} ms`;
  ui.words.replaceChildren(...answer.words.map((word, index) => wordCard(word, index)));
  ui.playTake.disabled = !buffer;
  ui.waveNote.hidden = Boolean(buffer);
  ui.wave.hidden = !buffer;
  ui.result.hidden = false;
  if (buffer) drawWaveform(buffer, answer.words);
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function wordCard(word, index) {
  const card = element("li", "word");
  card.dataset.digit = String(word.digit);
  const head = element("div", "word-head");
  head.append(element("div", "word-digit", String(word.digit)));
  const meta = element("div", "word-meta");
  meta.append(element("strong", "word-probability", percent(word.probability)));
  meta.append(`${word.start_s.toFixed(2)}–${word.end_s.toFixed(2)} s`);
  head.append(meta);
  const play = element("button", "button", "▶ Play");
  play.type = "button";
  play.title = `Play word ${index + 1}`;
  play.disabled = !(shown && shown.buffer);
  play.addEventListener("click", () => playRange(word.start_s, word.end_s));
  head.append(play);
  card.append(head);
  const bars = element("div", "bars");
  bars.setAttribute("role", "img");
  bars.setAttribute(
    "aria-label",
    word.probabilities.map((p, digit) => `${digit}: ${percent(p)}`).join(", ")
  );
  word.probabilities.forEach((p, digit) => {
    const bar = element("div", digit === word.digit ? "bar top" : "bar");
    bar.title = `${digit}: ${percent(p)}`;
    const fill = element("div", "bar-fill");
    fill.style.height = `${Math.max(0, Math.min(1, p)) * 100}%`;
    bar.append(fill, element("div", "bar-label", String(digit)));
    bars.append(bar);
  });
  card.append(bars);
  return card;
}

function drawWaveform(buffer, words, playhead = null) {
  const canvas = ui.wave;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth * ratio;
  const height = canvas.clientHeight * ratio;
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, width, height);
  const seconds = buffer.duration;
  const x = (t) => (t / seconds) * width;
  for (const word of words) {
    g.fillStyle = "rgba(67, 56, 202, 0.12)";
    g.fillRect(x(word.start_s), 0, x(word.end_s) - x(word.start_s), height);
    g.fillStyle = "#4338ca";
    g.fillRect(x(word.start_s), 0, 2 * ratio, height);
    g.fillRect(x(word.end_s) - 2 * ratio, 0, 2 * ratio, height);
    g.font = `700 ${16 * ratio}px ui-monospace, monospace`;
    g.fillText(String(word.digit), x(word.start_s) + 6 * ratio, 20 * ratio);
  }
  const data = buffer.getChannelData(0);
  const step = Math.max(1, Math.floor(data.length / width));
  const middle = height / 2;
  let peak = 1e-6;
  for (let i = 0; i < data.length; i++) peak = Math.max(peak, Math.abs(data[i]));
  const scale = (0.45 * height) / peak;
  g.fillStyle = "#334155";
  for (let column = 0; column < width; column++) {
    let low = 0;
    let high = 0;
    const start = column * step;
    for (let i = start; i < Math.min(start + step, data.length); i++) {
      low = Math.min(low, data[i]);
      high = Math.max(high, data[i]);
    }
    g.fillRect(column, middle - high * scale, 1, Math.max(1, (high - low) * scale));
  }
  if (playhead !== null) {
    g.fillStyle = "#dc2626";
    g.fillRect(x(playhead), 0, 2 * ratio, height);
  }
}

// ---- Playback -------------------------------------------------------------------------

function stopPlayback() {
  if (playing) {
    playing.onended = null;
    try {
      playing.stop();
    } catch (error) {
      // already stopped
    }
    playing = null;
  }
}

function playRange(start, end) {
  if (!shown || !shown.buffer) return;
  stopPlayback();
  const context = audioContext();
  context.resume();
  const node = context.createBufferSource();
  node.buffer = shown.buffer;
  node.connect(context.destination);
  const duration = Math.max(0, end - start);
  const began = context.currentTime;
  node.start(0, start, duration);
  playing = node;
  const current = shown;
  const tick = () => {
    if (playing !== node || shown !== current) return;
    const at = start + (context.currentTime - began);
    drawWaveform(current.buffer, current.answer.words, Math.min(at, end));
    requestAnimationFrame(tick);
  };
  node.onended = () => {
    if (playing === node) playing = null;
    if (shown === current) drawWaveform(current.buffer, current.answer.words);
  };
  requestAnimationFrame(tick);
}

// ---- Teach it your voice --------------------------------------------------------------

function buildSlots() {
  ui.slots.replaceChildren(
    ...DIGITS.map((digit) => {
      const slot = element("li", "slot");
      slot.dataset.digit = String(digit);
      slot.dataset.filled = "false";
      slot.append(element("span", "slot-digit", String(digit)));
      const buttons = element("div", "slot-buttons");
      const record = element("button", "button slot-record", "● Record");
      record.type = "button";
      record.title = `Record yourself saying ${digit}`;
      const target = {
        button: record,
        label: record,
        idleText: "● Record",
        onTake: (blob) => keepTake(digit, blob, "recorded"),
      };
      record.addEventListener("click", () => (recorder ? stopRecording() : startRecording(target)));
      const file = element("label", "button slot-file", "File");
      const input = element("input");
      input.type = "file";
      input.accept = audioAccept;
      input.addEventListener("change", () => {
        const chosen = input.files[0];
        input.value = "";
        if (chosen) keepTake(digit, chosen, chosen.name);
      });
      file.append(input);
      buttons.append(record, file);
      slot.append(buttons, element("span", "slot-status", "no take yet"));
      return slot;
    })
  );
}

function keepTake(digit, blob, name) {
  enrollTakes[digit] = blob;
  const slot = ui.slots.querySelector(`.slot[data-digit="${digit}"]`);
  slot.dataset.filled = "true";
  slot.querySelector(".slot-status").textContent = `✓ ${name}`;
  const missing = DIGITS.filter((d) => !enrollTakes[d]);
  ui.enrollButton.disabled = missing.length > 0;
  ui.enrollStatus.textContent = missing.length
    ? `still to say: ${missing.join(", ")}`
    : "every digit has a take";
}

async function base64Of(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

async function teachVoice() {
  ui.enroll.dataset.enroll = "busy";
  ui.enrollButton.disabled = true;
  ui.enrollStatus.textContent = "learning your voice…";
  let response;
  let answer;
  try {
    const takes = await Promise.all(
      DIGITS.map(async (digit) => ({ digit, audio_base64: await base64Of(enrollTakes[digit]) }))
    );
    response = await fetch(ENROLL_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ takes }),
    });
    answer = await response.json();
  } catch (error) {
    answer = { error: `the server did not answer (${error.message})` };
  }
  ui.enrollButton.disabled = false;
  if (!response || !response.ok || answer.error) {
    ui.enroll.dataset.enroll = "error";
    ui.enrollStatus.textContent = "";
    showMessage(`Teach it my voice: ${answer.error || `the server answered ${response.status}`}`);
    return;
  }
  clearMessage();
  voice = { token: answer.voice, model: answer.model };
  ui.voiceToggle.checked = true;
  ui.voiceToggleLabel.hidden = false;
  showModel();
  const kept = answer.folder ? ` Kept in ${answer.folder}.` : "";
  ui.enrollStatus.textContent =
    `Your voice model is ready (${answer.takes} takes, ${answer.seconds} s): ` +
    `your next takes go to it.${kept}`;
  ui.enroll.dataset.enroll = "ready";
}

function forgetVoice() {
  voice = null;
  ui.voiceToggleLabel.hidden = true;
  ui.enroll.dataset.enroll = "idle";
  ui.enrollStatus.textContent = "The server no longer holds your voice model: teach it again.";
  showModel();
}

function showModel() {
  const name = voice && ui.voiceToggle.checked ? voice.model : modelName;
  ui.model.textContent = name;
  ui.model.title = name;
}

// ---- Wiring ---------------------------------------------------------------------------

ui.record.addEventListener("click", () => (recorder ? stopRecording() : startRecording()));
ui.enrollButton.addEventListener("click", teachVoice);
ui.voiceToggle.addEventListener("change", showModel);

ui.file.addEventListener("change", () => {
  const file = ui.file.files[0];
  ui.file.value = ""; // choosing the same file again is a new take
  if (file) recognize(file, file.name);
});

["dragenter", "dragover"].forEach((type) =>
  ui.drop.addEventListener(type, (event) => {
    event.preventDefault();
    ui.drop.classList.add("dragging");
  })
);
["dragleave", "drop"].forEach((type) =>
  ui.drop.addEventListener(type, () => ui.drop.classList.remove("dragging"))
);
ui.drop.addEventListener("drop", (event) => {
  event.preventDefault();
  const file = event.dataTransfer.files[0];
  if (file) recognize(file, file.name);
});

ui.playTake.addEventListener("click", () => {
  if (shown && shown.buffer) playRange(0, shown.buffer.duration);
});

window.addEventListener("resize", () => {
  if (shown && shown.buffer && !ui.result.hidden) drawWaveform(shown.buffer, shown.answer.words);
});

ui.origin.textContent = window.location.host;
fetch(INFO_URL)
  .then((response) => response.json())
  .then((info) => {
    maxTakeS = info.max_take_s;
    audioAccept = info.audio_accept;
    ui.file.accept = audioAccept;
    ui.maxTake.textContent = String(info.max_take_s);
    modelName = info.model;
    showModel();
    if (info.enroll) {
      buildSlots();
      ui.enroll.hidden = false;
    }
    document.body.dataset.ready = "true";
  })
  .catch(() => showMessage("The server does not answer: is fsdd-app running?"));
