/* Vocals web call: talk to a Vocals agent from a web page.
 *
 *   <script src="https://vocals.example.com/web-call.js"></script>
 *   <div id="talk"></div>
 *   <script>
 *     VocalsWebCall.button(document.getElementById("talk"), {
 *       // Your backend mints the token with its API key (POST /api/v1/web-calls) and returns
 *       // the answer's {token, socket_url}.
 *       getToken: () => fetch("/vocals-token", { method: "POST" }).then((r) => r.json()),
 *     });
 *   </script>
 *
 * `VocalsWebCall.start({socketUrl, token, on})` is the same call without the button. Audio is
 * 16-bit PCM at 16 kHz both ways over the socket; an AudioWorklet captures and plays it. */
(function () {
  "use strict";
  // The worklet's source, put here by the server so the script is one file and needs no CORS.
  const WORKLET_SOURCE = __WORKLET_SOURCE__;
  const WIRE_RATE = 16000;
  const CLOSE_POLICY = 1008;
  const CLOSE_TRY_LATER = 1013;

  const MESSAGES = {
    denied: "Microphone access was denied. Allow the microphone for this site, then try again.",
    noMicrophone: "No microphone was found. Connect one, then try again.",
    lost: "The connection to the agent was lost.",
    busy: "The agent is busy right now. Please try again in a moment.",
    unsupported: "This browser cannot make web calls (it lacks microphone access or audio worklets).",
    refused: "The call was refused",
  };

  let workletUrl = null;

  function microphoneError(error) {
    const name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") return { kind: "denied", message: MESSAGES.denied };
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "NotReadableError") {
      return { kind: "noMicrophone", message: MESSAGES.noMicrophone };
    }
    return { kind: "microphone", message: `The microphone could not be opened (${name || error}).` };
  }

  /** Start a call. `on` may hold: state(s), started({callId, draft}), transcript({role, text,
   * interrupted}), turn({index, latency}), audio(msPlayed), cleared(), ended({callId, reason}),
   * error({kind, message}). Returns {hangup()}. */
  function start({ socketUrl, token, on = {} }) {
    const emit = (name, value) => { if (typeof on[name] === "function") on[name](value); };
    let socket = null, context = null, stream = null, callId = null, over = false, hungUp = false, endReason = "";

    const finish = (error) => {
      if (over) return;
      over = true;
      if (stream) stream.getTracks().forEach((track) => track.stop());
      if (context) context.close().catch(() => {});
      if (error) {
        emit("error", error);
        emit("state", "failed");
      } else {
        emit("ended", { callId, reason: endReason });
        emit("state", "ended");
      }
    };

    const send = (data) => { if (socket && socket.readyState === WebSocket.OPEN) socket.send(data); };

    const connect = (node) => {
      socket = new WebSocket(socketUrl);
      socket.binaryType = "arraybuffer";
      socket.onopen = () => socket.send(JSON.stringify({ type: "start", token }));
      socket.onmessage = (event) => {
        if (event.data instanceof ArrayBuffer) {
          node.port.postMessage({ type: "audio", pcm: event.data }, [event.data]);
          return;
        }
        const message = JSON.parse(event.data);
        if (message.type === "started") {
          callId = message.call_id;
          emit("started", { callId, draft: message.draft });
          emit("state", "live");
        } else if (message.type === "mark") {
          node.port.postMessage({ type: "mark", name: message.name });
        } else if (message.type === "clear") {
          node.port.postMessage({ type: "clear" });
          emit("cleared");
        } else if (message.type === "transcript") {
          emit("transcript", { role: message.role, text: message.text, interrupted: message.interrupted });
        } else if (message.type === "turn") {
          emit("turn", { index: message.index, latency: message.latency });
        } else if (message.type === "ended") {
          endReason = message.reason;
        }
      };
      socket.onclose = (event) => {
        if (callId === null && event.code === CLOSE_POLICY) {
          finish({ kind: "refused", message: `${MESSAGES.refused}: ${event.reason || "no reason given"}.` });
        } else if (event.code === CLOSE_TRY_LATER) {
          finish({ kind: "busy", message: MESSAGES.busy });
        } else if (hungUp || endReason || event.code === 1000) {
          finish(null);
        } else {
          finish({ kind: "lost", message: MESSAGES.lost });
        }
      };
      node.port.onmessage = (event) => {
        const data = event.data;
        if (data.type === "mic") {
          if (callId !== null) send(data.pcm);
        } else if (data.type === "mark") {
          send(JSON.stringify({ type: "mark", name: data.name }));
        } else if (data.type === "played") {
          emit("audio", Math.round((data.samples * 1000) / WIRE_RATE));
        }
      };
    };

    const begin = async () => {
      emit("state", "connecting");
      if (!navigator.mediaDevices || typeof AudioWorkletNode === "undefined") {
        finish({ kind: "unsupported", message: MESSAGES.unsupported });
        return;
      }
      try {
        stream = await navigator.mediaDevices.getUserMedia({
          audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
        });
      } catch (error) {
        finish(microphoneError(error));
        return;
      }
      if (over) return;
      context = new AudioContext({ sampleRate: WIRE_RATE, latencyHint: "interactive" });
      if (!workletUrl) workletUrl = URL.createObjectURL(new Blob([WORKLET_SOURCE], { type: "text/javascript" }));
      await context.audioWorklet.addModule(workletUrl);
      const node = new AudioWorkletNode(context, "vocals-web-call", {
        numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
      });
      context.createMediaStreamSource(stream).connect(node);
      node.connect(context.destination);
      await context.resume();
      if (!over) connect(node);
    };

    begin().catch((error) => finish({ kind: "failed", message: `The call could not start (${error}).` }));

    return {
      hangup() {
        hungUp = true;
        if (socket && socket.readyState === WebSocket.OPEN) {
          send(JSON.stringify({ type: "hangup" }));
        } else {
          if (socket) socket.close();
          finish(null);
        }
      },
    };
  }

  const LABELS = { connecting: "Connecting…", live: "Connected: speak now", ended: "Call ended", failed: "" };

  /** A "Talk to us" button in `element` with the call's state beside it. `getToken()` returns
   * (a promise of) {token, socket_url}. */
  function button(element, { getToken, label = "Talk to us", hangupLabel = "Hang up" }) {
    const btn = document.createElement("button");
    const status = document.createElement("span");
    btn.type = "button";
    btn.textContent = label;
    status.setAttribute("role", "status");
    status.style.marginLeft = "0.5em";
    element.append(btn, status);
    let call = null;
    btn.onclick = async () => {
      if (call) {
        call.hangup();
        return;
      }
      btn.disabled = true;
      status.textContent = LABELS.connecting;
      let grant;
      try {
        grant = await getToken();
      } catch (error) {
        status.textContent = `The call could not start (${error}).`;
        btn.disabled = false;
        return;
      }
      btn.disabled = false;
      btn.textContent = hangupLabel;
      call = start({
        socketUrl: grant.socket_url,
        token: grant.token,
        on: {
          state: (state) => {
            if (LABELS[state]) status.textContent = LABELS[state];
            if (state === "ended" || state === "failed") {
              call = null;
              btn.textContent = label;
            }
          },
          error: (error) => { status.textContent = error.message; },
        },
      });
    };
    return btn;
  }

  window.VocalsWebCall = { start, button, messages: MESSAGES };
})();
