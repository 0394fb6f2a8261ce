import { createApp, h } from "vue";
import { LivenessCheck } from "./LivenessCheck.js";

createApp({
  render: () =>
    h(LivenessCheck, {
      apiBase: "https://liveness.shop.example",
      onVerdict: (verdict) => console.log(verdict.valid, verdict),
    }),
}).mount("#app");
