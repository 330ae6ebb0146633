// Copies the microphone's first channel to the page, block by block; the page joins the
// blocks into a WAV when recording stops. Outputs nothing (silence).
class RecorderProcessor extends AudioWorkletProcessor {
  process(inputs) {
    const channels = inputs[0];
    if (channels && channels.length > 0) {
      this.port.postMessage(channels[0].slice(0));
    }
    return true;
  }
}
registerProcessor("recorder-processor", RecorderProcessor);
