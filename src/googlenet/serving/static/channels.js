// The channel sheet of one Inception branch (GET /v1/channels/MODULE.BRANCH): each channel's feature
// visualisation beside the dataset images that excite it most, computed by the server in the background
// while this polls its progress. The channels the dropped image excites most (its explanation's strongest
// channels) come first, marked.
"use strict";

const CHANNELS_SHOWN = 8;  // besides the image's strongest: channels 0, 1, ... up to this many in all
const POLL_MS = 500;
let channelSheetRequest = 0;  // a newer click supersedes the polling of an older one

function channelList(branch) {
  const excited = branch.strongest.map((item) => item.channel);
  const first = Array.from({ length: Math.min(branch.channels, CHANNELS_SHOWN) }, (_, index) => index);
  return [...new Set([...excited, ...first])].slice(0, Math.max(CHANNELS_SHOWN, excited.length));
}

// Another image: its strongest channels are other ones, and a sheet still computing is not wanted.
function hideChannels() {
  channelSheetRequest++;
  const box = document.querySelector("#channel-sheet");
  box.hidden = true;
  box.replaceChildren();
}

async function showChannels(module, branch) {
  const request = ++channelSheetRequest;
  const unit = `${module}.${branch.name}`;
  const box = document.querySelector("#channel-sheet");
  const bar = element("progress", { max: "1", value: "0" });
  const stage = element("span", { class: "hint" }, "starting");
  box.replaceChildren(element("h3", {}, `${module} ${branch.label}: what its channels respond to`), bar, stage);
  box.hidden = false;
  const excited = new Map(branch.strongest.map((item) => [item.channel, item.mean_activation]));
  const query = `/v1/channels/${unit}?channels=${channelList(branch).join(",")}`;
  for (;;) {
    let answer;
    try {
      answer = await api(query);
    } catch (error) {
      if (request === channelSheetRequest) box.replaceChildren(element("p", { class: "empty" }, error.message));
      return;
    }
    if (request !== channelSheetRequest) return;
    if (answer.state === "ready") {
      drawChannelSheet(box, module, branch, answer, excited);
      return;
    }
    bar.value = answer.progress;
    stage.textContent = ` ${answer.stage}`;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function drawChannelSheet(box, module, branch, answer, excited) {
  const rows = answer.channels.map((entry) => {
    const row = element("div", { class: excited.has(entry.channel) ? "channel-row excited" : "channel-row" });
    const label = element("div", { class: "channel-label" }, `#${entry.channel}`);
    if (excited.has(entry.channel)) {
      label.append(element("small", {}, `your image: ${excited.get(entry.channel).toPrecision(3)}`));
    }
    const examples = element("div", { class: "channel-examples" });
    for (const example of entry.examples) {
      examples.append(element("img", { src: example.url, alt: `image ${example.index}`,
        title: `image ${example.index} of the split: mean activation ${example.activation}` }));
    }
    row.append(label, element("img", { class: "visualisation", src: entry.image, alt: `channel ${entry.channel}` }),
      examples);
    return row;
  });
  box.replaceChildren(
    element("h3", {}, `${answer.label}: each channel's visualisation and the images that excite it most`),
    element("p", { class: "hint" }, "Left: an image optimised to excite the channel. Right: " +
      (answer.examples_note || "no dataset examples") + ". Marked: the channels your image excites most."),
    ...rows);
  box.dataset.unit = answer.unit;
}
