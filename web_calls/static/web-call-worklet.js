/* Vocals web call: the audio thread. Microphone in 20 ms chunks of 16-bit PCM to the page;
 * the agent's 16-bit PCM from the page to the speakers, with marks echoed when played and
 * everything dropped at once on "clear" (the caller barged in). Runs at the context's rate,
 * which the page sets to 16 kHz, the wire's rate. */
const CHUNK_SAMPLES = 320; // 20 ms at 16 kHz
// Audio held before playback starts: absorbs the network's jitter without adding much delay.
const PREBUFFER_SAMPLES = 960; // 60 ms
// How often the page hears how much agent audio has played (for its "agent speaking" state).
const REPORT_EVERY_SAMPLES = 1600; // 100 ms

class VocalsWebCallProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.mic = new Int16Array(CHUNK_SAMPLES);
    this.micFill = 0;
    this.queue = []; // {pcm: Int16Array, offset} or {mark: name}
    this.queued = 0;
    this.playing = false;
    this.played = 0;
    this.unreported = 0;
    this.port.onmessage = (event) => this.command(event.data);
  }

  command(data) {
    if (data.type === "audio") {
      this.queue.push({ pcm: new Int16Array(data.pcm), offset: 0 });
      this.queued += data.pcm.byteLength / 2;
    } else if (data.type === "mark") {
      this.queue.push({ mark: data.name });
    } else if (data.type === "clear") {
      for (const item of this.queue) if (item.mark !== undefined) this.port.postMessage({ type: "mark", name: item.mark });
      this.queue = [];
      this.queued = 0;
      this.playing = false;
    }
  }

  process(inputs, outputs) {
    const input = inputs[0] && inputs[0][0];
    if (input) this.capture(input);
    const output = outputs[0] && outputs[0][0];
    if (output) this.play(output);
    return true;
  }

  capture(samples) {
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      this.mic[this.micFill++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.micFill === CHUNK_SAMPLES) {
        const chunk = this.mic.buffer.slice(0);
        this.port.postMessage({ type: "mic", pcm: chunk }, [chunk]);
        this.micFill = 0;
      }
    }
  }

  play(output) {
    output.fill(0);
    if (!this.playing) {
      // A mark ends an utterance: play its tail even when shorter than the prebuffer.
      if (this.queued < PREBUFFER_SAMPLES && !this.queue.some((item) => item.mark !== undefined)) return;
      this.playing = true;
    }
    let i = 0;
    while (i < output.length && this.queue.length) {
      const item = this.queue[0];
      if (item.mark !== undefined) {
        this.port.postMessage({ type: "mark", name: item.mark });
        this.queue.shift();
        continue;
      }
      const n = Math.min(output.length - i, item.pcm.length - item.offset);
      for (let k = 0; k < n; k++) output[i + k] = item.pcm[item.offset + k] / 0x8000;
      item.offset += n;
      i += n;
      this.queued -= n;
      if (item.offset === item.pcm.length) this.queue.shift();
    }
    if (i) {
      this.played += i;
      this.unreported += i;
      if (this.unreported >= REPORT_EVERY_SAMPLES) {
        this.port.postMessage({ type: "played", samples: this.played });
        this.unreported = 0;
      }
    }
    if (!this.queue.length) this.playing = false;
  }
}

registerProcessor("vocals-web-call", VocalsWebCallProcessor);
