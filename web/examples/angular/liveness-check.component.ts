// The page part of an integration in Angular (standalone component). Not built by the test
// suite (that would need the Angular compiler); it uses only the element's documented API.
import { Component, CUSTOM_ELEMENTS_SCHEMA, ElementRef, EventEmitter, Input, Output, ViewChild, AfterViewInit } from "@angular/core";
import { submitCapture } from "liveness-capture";

@Component({
  selector: "app-liveness-check",
  standalone: true,
  schemas: [CUSTOM_ELEMENTS_SCHEMA],
  template: `<liveness-capture #capture [attr.api-base]="apiBase"></liveness-capture>`,
})
export class LivenessCheckComponent implements AfterViewInit {
  @Input({ required: true }) apiBase!: string;
  @Output() verdict = new EventEmitter<unknown>();
  @ViewChild("capture") capture!: ElementRef;

  ngAfterViewInit() {
    const element = this.capture.nativeElement;
    element.sessionProvider = async () => (await fetch("/liveness-session", { method: "POST" })).json();
    element.addEventListener("capture", async (event: CustomEvent) =>
      this.verdict.emit(await submitCapture(this.apiBase, event.detail[0])));
  }
}
