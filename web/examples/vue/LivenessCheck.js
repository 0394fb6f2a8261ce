// The page part of an integration in Vue 3 (a render function, so it needs no template
// compiler): the element, a session from your own back end, a `verdict` event.
import { defineComponent, h, onBeforeUnmount, onMounted, ref } from "vue";
import { submitCapture } from "liveness-capture";

export const LivenessCheck = defineComponent({
  props: { apiBase: { type: String, required: true } },
  emits: ["verdict"],
  setup(props, { emit }) {
    const element = ref(null);
    const onCapture = async (event) => emit("verdict", await submitCapture(props.apiBase, event.detail[0]));
    onMounted(() => {
      element.value.sessionProvider = async () =>
        (await fetch("/liveness-session", { method: "POST" })).json();
      element.value.addEventListener("capture", onCapture);
    });
    onBeforeUnmount(() => element.value?.removeEventListener("capture", onCapture));
    return () => h("liveness-capture", { ref: element, "api-base": props.apiBase });
  },
});
